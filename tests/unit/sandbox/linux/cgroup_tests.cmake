# Tests of src/sandbox/linux/cgroup*.cpp against real cgroups (they skip
# where the machine offers none). include()d from tests/CMakeLists.txt.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()

add_executable(cgroup_test ${CMAKE_CURRENT_LIST_DIR}/cgroup_test.cpp)
target_link_libraries(cgroup_test PRIVATE agentd::sandbox_cgroup GTest::gtest_main GTest::gmock)
gtest_discover_tests(cgroup_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit TIMEOUT 120)
