// sandbox::run_file_op on a temp directory (both resolve modes) and
// sandbox::copy_tree / SnapshotStore.
#include "sandbox/file_ops.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/unique_fd.hpp"
#include "sandbox/snapshot.hpp"
#include "support/temp_dir.hpp"

namespace agentd::sandbox {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class FileOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "work");
    spit(outside_ / "secret", "HOST-SECRET");
    fd_.reset(::open((root_ / "work").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fd_);
  }
  std::string work(const std::string& name) const { return root_ / ("work/" + name); }
  FileReply op(FileRequest request, Resolve resolve = Resolve::kBeneath) {
    return run_file_op(fd_.get(), resolve, request);
  }
  FileReply read(const std::string& path, Resolve resolve = Resolve::kBeneath) {
    return op({.op = "read", .path = path}, resolve);
  }
  FileReply write(const std::string& path, const std::string& data,
                  const std::string& mode = "overwrite") {
    return op({.op = "write", .path = path, .data = data, .write_mode = mode});
  }

  test_support::TempDir root_;
  test_support::TempDir outside_;
  base::UniqueFd fd_;
};

TEST_F(FileOpsTest, WriteThenReadRoundTrips) {
  ASSERT_FALSE(write("a.txt", "hello").error);
  auto r = read("a.txt");
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.data, "hello");
  EXPECT_EQ(r.size, 5u);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(slurp(work("a.txt")), "hello");
}

TEST_F(FileOpsTest, ReadWithOffsetAndLength) {
  spit(work("f"), "0123456789");
  auto r = op({.op = "read", .path = "f", .offset = 3, .length = 4});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.data, "3456");
  EXPECT_FALSE(r.eof);
  r = op({.op = "read", .path = "f", .offset = 8, .length = 4});
  EXPECT_EQ(r.data, "89");
  EXPECT_TRUE(r.eof);
}

TEST_F(FileOpsTest, LengthAboveTheCapIsInvalid) {
  spit(work("f"), "x");
  auto r = op({.op = "read", .path = "f", .length = kMaxFileBytes + 1});
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, FileError::Kind::kInvalid);
  EXPECT_EQ(r.error->field, "length");
}

TEST_F(FileOpsTest, MissingFileIsEnoent) {
  auto r = read("nope");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, FileError::Kind::kSystem);
  EXPECT_EQ(r.error->err, ENOENT);
  EXPECT_EQ(errno_name(r.error->err), "ENOENT");
}

TEST_F(FileOpsTest, CreateRefusesAnExistingFileAndAppendAppends) {
  ASSERT_FALSE(write("f", "one", "create").error);
  auto again = write("f", "two", "create");
  ASSERT_TRUE(again.error);
  EXPECT_EQ(again.error->err, EEXIST);
  ASSERT_FALSE(write("f", "+more", "append").error);
  EXPECT_EQ(slurp(work("f")), "one+more");
}

TEST_F(FileOpsTest, OverwriteReplacesASymlinkInsteadOfFollowingIt) {
  fs::create_symlink(outside_ / "secret", work("link"));
  ASSERT_FALSE(write("link", "mine").error);
  EXPECT_EQ(slurp(outside_ / "secret"), "HOST-SECRET");
  EXPECT_FALSE(fs::is_symlink(work("link")));
  EXPECT_EQ(slurp(work("link")), "mine");
}

TEST_F(FileOpsTest, AppendAndCreateRefuseAFinalSymlink) {
  fs::create_symlink(outside_ / "secret", work("link"));
  EXPECT_TRUE(write("link", "x", "append").error);
  EXPECT_TRUE(write("link", "x", "create").error);
  EXPECT_EQ(slurp(outside_ / "secret"), "HOST-SECRET");
}

TEST_F(FileOpsTest, OverwriteKeepsModeOrSetsPermissions) {
  spit(work("f"), "old");
  ::chmod(work("f").c_str(), 0600);
  ASSERT_FALSE(write("f", "new").error);
  struct stat st {};
  ::stat(work("f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_FALSE(op({.op = "write", .path = "f", .data = "x", .permissions = 0750}).error);
  ::stat(work("f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(FileOpsTest, CreateParentsMakesDirectories) {
  auto r = op({.op = "write", .path = "a/b/c.txt", .data = "x", .create_parents = true});
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(slurp(work("a/b/c.txt")), "x");
  EXPECT_TRUE(write("q/r.txt", "x").error) << "without createParents";
}

TEST_F(FileOpsTest, ListAndStatDoNotFollowSymlinks) {
  spit(work("f"), "12345");
  fs::create_directory(work("d"));
  fs::create_symlink(outside_ / "secret", work("l"));
  auto r = op({.op = "list", .path = "."});
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.entries.size(), 3u);
  EXPECT_EQ(r.entries[0].name, "d");
  EXPECT_EQ(r.entries[0].type, "dir");
  EXPECT_EQ(r.entries[1].name, "f");
  EXPECT_EQ(r.entries[1].size, 5u);
  EXPECT_EQ(r.entries[2].type, "symlink");
  auto s = op({.op = "stat", .path = "l"});
  ASSERT_FALSE(s.error);
  EXPECT_EQ(s.entry.type, "symlink");
}

TEST_F(FileOpsTest, RemoveMkdirMove) {
  ASSERT_FALSE(op({.op = "mkdir", .path = "d"}).error);
  EXPECT_EQ(op({.op = "mkdir", .path = "d"}).error->err, EEXIST);
  ASSERT_FALSE(op({.op = "mkdir", .path = "x/y/z", .parents = true}).error);
  spit(work("d/f"), "1");
  EXPECT_EQ(op({.op = "remove", .path = "d"}).error->err, ENOTEMPTY);
  ASSERT_FALSE(op({.op = "remove", .path = "d", .recursive = true}).error);
  EXPECT_FALSE(fs::exists(work("d")));
  spit(work("a"), "A");
  spit(work("b"), "B");
  EXPECT_EQ(op({.op = "move", .path = "a", .to = "b"}).error->err, EEXIST);
  ASSERT_FALSE(op({.op = "move", .path = "a", .to = "b", .overwrite = true}).error);
  EXPECT_EQ(slurp(work("b")), "A");
}

TEST_F(FileOpsTest, RemoveOfASymlinkRemovesTheLinkOnly) {
  fs::create_directory(outside_ / "dir");
  spit(outside_ / "dir/keep", "k");
  fs::create_directory_symlink(outside_ / "dir", work("l"));
  ASSERT_FALSE(op({.op = "remove", .path = "l", .recursive = true}).error);
  EXPECT_TRUE(fs::exists(outside_ / "dir/keep"));
}

TEST_F(FileOpsTest, TheRootItselfCannotBeRemovedOrMoved) {
  EXPECT_EQ(op({.op = "remove", .path = ".", .recursive = true}).error->kind,
            FileError::Kind::kInvalid);
  EXPECT_TRUE(op({.op = "move", .path = ".", .to = "x"}).error);
}

// SECURITY-CASES 4, on the library: every escape is refused by the kernel.
TEST_F(FileOpsTest, TraversalIsRefusedBeneathTheRoot) {
  fs::create_directory(work("allowed"));
  fs::create_symlink(outside_ / "secret", work("abs-link"));
  fs::create_symlink("../../" + fs::path(outside_.path()).filename().string() + "/secret",
                     work("rel-link"));
  for (std::string path : std::vector<std::string>{
           "../../etc/passwd", "allowed/../../../etc/passwd",
           "../" + fs::path(outside_.path()).filename().string(), "abs-link/x", "rel-link/x"}) {
    for (const char* o : {"read", "list", "stat", "remove", "mkdir"}) {
      auto r = op({.op = o, .path = path});
      ASSERT_TRUE(r.error) << o << " " << path;
    }
    EXPECT_TRUE(write(path, "x").error) << path;
    EXPECT_TRUE(op({.op = "move", .path = path, .to = "moved"}).error) << path;
  }
  // Links pointing out: never followed; stat sees the link itself.
  for (std::string link : {"abs-link", "rel-link"}) {
    EXPECT_EQ(read(link).error->kind, FileError::Kind::kEscape) << link;
    EXPECT_TRUE(op({.op = "list", .path = link}).error) << link;
    EXPECT_EQ(op({.op = "stat", .path = link}).entry.type, "symlink");
  }
  EXPECT_EQ(read("abs-link").error->kind, FileError::Kind::kEscape);
  EXPECT_EQ(read("../../etc/passwd").error->kind, FileError::Kind::kEscape);
  EXPECT_EQ(slurp(outside_ / "secret"), "HOST-SECRET");
  EXPECT_TRUE(fs::exists(outside_ / "secret"));
}

TEST_F(FileOpsTest, InRootClampsDotDotAndAbsoluteSymlinksToTheRoot) {
  fs::create_symlink(outside_ / "secret", work("abs-link"));
  spit(work("inside"), "INSIDE");
  auto r = read("/../../inside", Resolve::kInRoot);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.data, "INSIDE");
  auto l = read("/abs-link", Resolve::kInRoot);
  ASSERT_TRUE(l.error);  // resolves to <root>/<outside>/secret: not there
  EXPECT_EQ(l.error->err, ENOENT);
}

TEST_F(FileOpsTest, PercentEncodingIsALiteralName) {
  auto r = read("%2e%2e%2fetc%2fpasswd");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->err, ENOENT);
  ASSERT_FALSE(write("%2e%2e%2f", "x").error);
  EXPECT_TRUE(fs::exists(work("%2e%2e%2f")));
}

TEST_F(FileOpsTest, NulBytesAreRefused) {
  auto r = read(std::string("a\0/../../etc/passwd", 19));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, FileError::Kind::kInvalid);
  EXPECT_THAT(r.error->message, HasSubstr("NUL"));
}

TEST(ClimbsAbove, CountsDotDotLexically) {
  EXPECT_TRUE(climbs_above(".."));
  EXPECT_TRUE(climbs_above("a/../../b"));
  EXPECT_FALSE(climbs_above("a/../b"));
  EXPECT_FALSE(climbs_above("./a/./b/.."));
  EXPECT_FALSE(climbs_above("%2e%2e%2f"));
}

TEST(FileOpsJson, RequestAndReplyRoundTrip) {
  FileRequest req{
      .op = "write", .path = "/w/x", .data = std::string("\0\xff", 2), .permissions = 0644};
  auto back = file_request_from_json(file_request_to_json(req));
  EXPECT_EQ(back.data, req.data);
  EXPECT_EQ(back.permissions, 0644u);
  FileReply reply;
  reply.error = FileError{FileError::Kind::kEscape, EXDEV, "to", "out"};
  auto r = file_reply_from_json(file_reply_to_json(reply));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, FileError::Kind::kEscape);
  EXPECT_EQ(r.error->field, "to");
}

class SnapshotTest : public ::testing::Test {
 protected:
  test_support::TempDir root_;
  test_support::TempDir work_;
  test_support::TempDir outside_;
};

TEST_F(SnapshotTest, RestoreRoundTripKeepsModesAndSymlinks) {
  fs::create_directories(work_ / "d/e");
  spit(work_ / "d/e/f", "data");
  ::chmod((work_ / "d/e/f").c_str(), 0751);
  fs::create_symlink("../f-target", work_ / "d/link");
  fs::create_symlink(outside_ / "x", work_ / "abs");
  SnapshotStore store(root_.path());
  auto snap = store.take(work_.path(), "sb-1", "before");
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_EQ(snap->size_bytes, 4u);
  EXPECT_THAT(snap->method, ::testing::AnyOf("copy", "reflink"));

  spit(work_ / "d/e/f", "changed");
  spit(work_ / "new", "new");
  ASSERT_TRUE(store.restore(*snap, work_.path()));
  EXPECT_EQ(slurp(work_ / "d/e/f"), "data");
  EXPECT_FALSE(fs::exists(work_ / "new"));
  struct stat st {};
  ::stat((work_ / "d/e/f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_EQ(fs::read_symlink(work_ / "d/link"), "../f-target");
  EXPECT_EQ(fs::read_symlink(work_ / "abs"), outside_ / "x");
}

TEST_F(SnapshotTest, WritingARestoredFileInPlaceLeavesTheSnapshotIntact) {
  spit(work_ / "f", "original");
  SnapshotStore store(root_.path());
  auto snap = store.take(work_.path(), "sb-1", "");
  ASSERT_TRUE(snap);
  ASSERT_TRUE(store.restore(*snap, work_.path()));
  std::ofstream(work_ / "f", std::ios::binary | std::ios::in) << "MUTATED!";  // in place
  ASSERT_TRUE(store.restore(*snap, work_.path()));
  EXPECT_EQ(slurp(work_ / "f"), "original");
}

TEST_F(SnapshotTest, SymlinksAreNotFollowedWhileCopying) {
  fs::create_directory(outside_ / "dir");
  spit(outside_ / "dir/secret", "HOST-SECRET");
  fs::create_directory_symlink(outside_ / "dir", work_ / "dirlink");
  fs::create_symlink(outside_ / "dir/secret", work_ / "filelink");
  SnapshotStore store(root_.path());
  auto snap = store.take(work_.path(), "sb-1", "");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->size_bytes, 0u);
  EXPECT_TRUE(fs::is_symlink(fs::path(snap->path) / "dirlink"));
  EXPECT_FALSE(fs::exists(fs::path(snap->path) / "dirlink/secret") &&
               !fs::is_symlink(fs::path(snap->path) / "dirlink"));
}

TEST_F(SnapshotTest, SetuidBitsAreDropped) {
  spit(work_ / "f", "x");
  ::chmod((work_ / "f").c_str(), 04755);
  SnapshotStore store(root_.path());
  auto snap = store.take(work_.path(), "sb-1", "");
  ASSERT_TRUE(snap);
  struct stat st {};
  ::stat((fs::path(snap->path) / "f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(SnapshotTest, DeleteAndDestructionRemoveTheCopies) {
  spit(work_ / "f", "x");
  std::string kept, deleted;
  {
    SnapshotStore store(root_.path());
    auto a = store.take(work_.path(), "sb-1", "");
    auto b = store.take(work_.path(), "sb-1", "");
    ASSERT_TRUE(a && b);
    deleted = a->path;
    kept = b->path;
    EXPECT_TRUE(store.remove(a->id));
    EXPECT_FALSE(store.remove(a->id));
    EXPECT_FALSE(fs::exists(deleted));
    EXPECT_TRUE(fs::exists(kept));
    EXPECT_EQ(store.list().size(), 1u);
  }
  EXPECT_FALSE(fs::exists(kept));
}

}  // namespace
}  // namespace agentd::sandbox
