"""Parse a multipart/form-data body back into parts with python-multipart (a test oracle)."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header


@dataclass
class Part:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)

    @property
    def disposition(self) -> dict[str, str]:
        _, options = parse_options_header(self.headers["content-disposition"].encode())
        return {k.decode(): v.decode() for k, v in options.items()}


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    """Parts by name; fails the test if the body is not complete, well-formed multipart."""
    media_type, options = parse_options_header(content_type)
    assert media_type == b"multipart/form-data"
    parts: list[Part] = []
    header = [bytearray(), bytearray()]
    ended: list[bool] = []

    def on_part_begin() -> None:
        parts.append(Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1].headers[header[0].decode().lower()] = header[1].decode()
        header[0].clear()
        header[1].clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data += data[start:end]

    def on_end() -> None:
        ended.append(True)

    parser = MultipartParser(
        options[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_end": on_end,
        },
    )
    parser.write(body)
    parser.finalize()
    assert ended, "multipart body did not end with its closing boundary"
    return {part.disposition["name"]: part for part in parts}
