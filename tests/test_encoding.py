"""Decoding policy: UTF-8 first, BOMs honoured, Windows-1252 fallback, binary refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.encoding import DecodeError, decode


def test_latin1_bbc_file_decodes_with_pound_sign(shared: Path) -> None:
    data = (shared / "news_en/bbc/sport/199.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text, encoding = decode(data)
    assert encoding == "cp1252"
    assert "a £15.8m signing from Parma" in text


def test_utf8_bom_and_crlf() -> None:
    text, encoding = decode("\ufeffÜber\r\nzwei Zeilen\r".encode())
    assert (text, encoding) == ("Über\nzwei Zeilen\n", "utf-8")


def test_utf16_with_bom() -> None:
    text, encoding = decode("Grüße aus Köln".encode("utf-16"))
    assert (text, encoding) == ("Grüße aus Köln", "utf-16")


def test_nfc_normalisation() -> None:
    decomposed = "Su\u0308dkorea".encode()
    assert decode(decomposed)[0] == "Südkorea"


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"\x00\x01\x02\x03PK\x03\x04" * 50])
def test_binary_is_refused(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert info.value.reason_code == "binary_content"
