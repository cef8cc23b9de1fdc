"""Content-Length framing without any process: round trips, split reads, bad headers."""

import unittest

from agentd_client import FrameDecoder, FramingError, ProtocolError, decode_body, encode_message
from agentd_client.framing import MAX_HEADER_BYTES

MESSAGES = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
    {"jsonrpc": "2.0", "method": "exec/output",
     "params": {"data": "héllo ✓ \u00e9\n", "encoding": "utf8", "seq": 0}},
]


def framed(*messages):
    return b"".join(encode_message(m) for m in messages)


def decode_all(decoder, chunks):
    return [decode_body(body) for chunk in chunks for body in decoder.feed(chunk)]


class EncodeTest(unittest.TestCase):
    def test_exact_header_and_compact_utf8_body(self):
        self.assertEqual(encode_message({"a": "é"}), b'Content-Length: 10\r\n\r\n{"a":"\xc3\xa9"}')

    def test_lone_surrogate_is_refused_before_sending(self):
        with self.assertRaisesRegex(ValueError, "UTF-8"):
            encode_message({"text": "\ud800"})


class DecodeTest(unittest.TestCase):
    def test_round_trip_of_merged_frames(self):
        self.assertEqual(decode_all(FrameDecoder(), [framed(*MESSAGES)]), MESSAGES)

    def test_every_split_point_yields_the_same_messages(self):
        data = framed(*MESSAGES)
        for split in range(len(data) + 1):
            with self.subTest(split=split):
                decoder = FrameDecoder()
                self.assertEqual(decode_all(decoder, [data[:split], data[split:]]), MESSAGES)
                self.assertEqual(decoder.buffered_bytes(), 0)

    def test_byte_by_byte_feeding(self):
        data = framed(*MESSAGES)
        chunks = [data[i:i + 1] for i in range(len(data))]
        self.assertEqual(decode_all(FrameDecoder(), chunks), MESSAGES)

    def test_incomplete_frame_returns_nothing_yet(self):
        data = framed(MESSAGES[0])
        decoder = FrameDecoder()
        self.assertEqual(decoder.feed(data[:-1]), [])
        self.assertEqual(len(decoder.feed(data[-1:])), 1)

    def test_header_names_any_case_extra_headers_and_whitespace_between(self):
        body = b'{"id":7}'
        data = (b"\r\n content-LENGTH: 8\r\nContent-Type: application/vscode-jsonrpc; "
                b"charset=utf-8\r\n\r\n" + body + b"\r\n\r\n" +
                b"Content-Type: x\r\nContent-Length:8\r\n\r\n" + body)
        self.assertEqual(FrameDecoder().feed(data), [body, body])

    def test_empty_body_is_a_frame(self):
        self.assertEqual(FrameDecoder().feed(b"Content-Length: 0\r\n\r\n"), [b""])


class BadFrameTest(unittest.TestCase):
    def assert_framing_error(self, data, pattern, decoder=None):
        with self.assertRaisesRegex(FramingError, pattern):
            (decoder or FrameDecoder()).feed(data)

    def test_missing_content_length(self):
        self.assert_framing_error(b"Content-Type: x\r\n\r\n{}", "no Content-Length")

    def test_non_numeric_and_negative_lengths(self):
        self.assert_framing_error(b"Content-Length: ten\r\n\r\n", "non-negative integer")
        self.assert_framing_error(b"Content-Length: -1\r\n\r\n", "non-negative integer")
        self.assert_framing_error(b"Content-Length: \r\n\r\n", "non-negative integer")

    def test_header_line_without_colon(self):
        self.assert_framing_error(b"hello world\r\n\r\n", "without ':'")

    def test_non_ascii_header(self):
        self.assert_framing_error("Content-Léngth: 2\r\n\r\n{}".encode(), "not ASCII")

    def test_conflicting_lengths(self):
        self.assert_framing_error(b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting")

    def test_header_block_without_end_is_capped(self):
        decoder = FrameDecoder()
        self.assertEqual(decoder.feed(b"Content-Length: 2\r\nX: " + b"a" * 100), [])
        self.assert_framing_error(b"a" * MAX_HEADER_BYTES, "no end of headers", decoder)

    def test_body_over_the_limit(self):
        self.assert_framing_error(b"Content-Length: 1025\r\n\r\n", "exceeds the limit",
                                  FrameDecoder(max_body_bytes=1024))

    def test_body_that_is_not_json_or_not_utf8(self):
        with self.assertRaisesRegex(ProtocolError, "not UTF-8 JSON"):
            decode_body(b"{not json")
        with self.assertRaisesRegex(ProtocolError, "not UTF-8 JSON"):
            decode_body(b'{"a":"\xff"}')


if __name__ == "__main__":
    unittest.main()
