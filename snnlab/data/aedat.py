"""AEDAT event files of the DVS128 camera: jAER's AEDAT 2.0 (CIFAR10-DVS) and AEDAT 3.1 (DVS128 Gesture).

AEDAT 2.0 (jAER): ASCII header lines starting with ``#`` (the first is ``#!AER-DAT2.0``), then
big-endian pairs ``(uint32 address, uint32 timestamp in us)``. DVS128 address bits: 0 polarity,
1-7 x, 8-14 y. CIFAR10-DVS (Li et al. 2017) ships its recordings this way; its readers (spikingjelly,
used by the Max-Former code) turn the sensor so that ``x = 127 - y_raw``, ``y = 127 - x_raw`` and
``p = 1 - p_raw`` (upright images, ON = 1); :func:`read_cifar10dvs` does the same.

AEDAT 3.1 (iniVation): ASCII header lines ending with ``#!END-HEADER\\r\\n``, then packets. Each
packet has a 28-byte little-endian header ``int16 type, int16 source, int32 event size, int32
timestamp offset, int32 timestamp overflow, int32 capacity, int32 number, int32 valid`` and
``capacity * size`` bytes of events. Polarity events (type 1) are 8 bytes: ``uint32 data`` (bit 0
valid, bit 1 polarity, bits 2-16 y, bits 17-31 x) and ``int32 timestamp``; the full time is
``overflow << 31 | timestamp`` in us. Other packet types are skipped. DVS128 Gesture (Amir et al.
2017) ships its recordings this way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnlab.data.events import make_events
from snnlab.errors import DataError

AEDAT2_MAGIC = b"#!AER-DAT2.0"
AEDAT31_MAGIC = b"#!AER-DAT3.1"
END_HEADER = b"#!END-HEADER\r\n"
PACKET_HEADER = np.dtype(
    [
        ("type", "<i2"),
        ("source", "<i2"),
        ("size", "<i4"),
        ("ts_offset", "<i4"),
        ("ts_overflow", "<i4"),
        ("capacity", "<i4"),
        ("number", "<i4"),
        ("valid", "<i4"),
    ]
)
POLARITY_EVENT = 1
# Bit fields of one event word: name -> (lowest bit, width).
DVS128_AEDAT2_FIELDS = {"p": (0, 1), "x": (1, 7), "y": (8, 7)}
POLARITY_AEDAT31_FIELDS = {"valid": (0, 1), "p": (1, 1), "y": (2, 15), "x": (17, 15)}


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise DataError(f"AEDAT file not found: {path}") from err


def _check_magic(data: bytes, path: Path, magic: bytes) -> None:
    if not data.startswith(magic):
        name = magic[len(b"#!AER-DAT") :].decode()
        raise DataError(f"{path}: not an AEDAT {name} file (first line {data[:16]!r}; expected '{magic.decode()}')")


def unpack_fields(words: np.ndarray, fields: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """Bit fields ``name -> (words >> low) & (2^width - 1)`` of event words (dtype kept)."""
    return {name: (words >> low) & ((1 << width) - 1) for name, (low, width) in fields.items()}


def pack_fields(values: dict[str, np.ndarray], fields: dict[str, tuple[int, int]]) -> np.ndarray:
    """The uint32 event words holding ``values`` in their bit fields (the inverse of :func:`unpack_fields`)."""
    words = np.zeros(np.shape(values[next(iter(fields))]), np.uint32)
    for name, (low, _) in fields.items():
        words |= np.asarray(values[name], np.uint32) << low
    return words


def _skip_hash_lines(data: bytes) -> int:
    """Offset of the first byte after the ``#`` header lines."""
    pos = 0
    while pos < len(data) and data[pos : pos + 1] == b"#":
        end = data.find(b"\n", pos)
        if end < 0:
            return len(data)
        pos = end + 1
    return pos


def read_aedat2(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(addresses, timestamps)`` (uint32) of an AEDAT 2.0 file.

    Raises:
        DataError: missing file, no ``#!AER-DAT2.0`` header, or a body that is not whole 8-byte events.
    """
    data = _read(Path(path))
    _check_magic(data, path, AEDAT2_MAGIC)
    body = data[_skip_hash_lines(data) :]
    if len(body) % 8:
        raise DataError(f"{path}: truncated AEDAT 2.0 body ({len(body)} bytes, not a multiple of 8-byte events)")
    words = np.frombuffer(body, dtype=">u4").reshape(-1, 2)
    return words[:, 0].astype(np.uint32), words[:, 1].astype(np.uint32)


def read_cifar10dvs(path: str | Path) -> np.ndarray:
    """Events of one CIFAR10-DVS recording (128 x 128 x 2), oriented as spikingjelly reads them."""
    addr, t = read_aedat2(path)
    raw = unpack_fields(addr, DVS128_AEDAT2_FIELDS)
    return make_events(t.astype(np.int64), 127 - raw["y"], 127 - raw["x"], 1 - raw["p"])


def write_aedat2(path: str | Path, x, y, p, t) -> Path:
    """Write raw DVS128 events (sensor coordinates, polarity bit) as an AEDAT 2.0 file."""
    addr = pack_fields({"x": x, "y": y, "p": p}, DVS128_AEDAT2_FIELDS)
    words = np.stack([addr, np.asarray(t, np.uint32)], axis=1).astype(">u4")
    Path(path).write_bytes(AEDAT2_MAGIC + b"\r\n# This is a raw AE data file - do not edit\r\n" + words.tobytes())
    return Path(path)


def _aedat31_body(data: bytes, path: Path) -> int:
    _check_magic(data, path, AEDAT31_MAGIC)
    end = data.find(END_HEADER)
    if end < 0:
        raise DataError(f"{path}: AEDAT 3.1 header has no '#!END-HEADER' line")
    return end + len(END_HEADER)


def read_aedat31(path: str | Path) -> np.ndarray:
    """Valid polarity events of an AEDAT 3.1 file, in file order (t, x, y, p).

    Raises:
        DataError: missing file, wrong header, or a packet that runs past the end of the file.
    """
    path = Path(path)
    data = _read(path)
    pos, chunks = _aedat31_body(data, path), []
    while pos < len(data):
        if pos + PACKET_HEADER.itemsize > len(data):
            raise DataError(f"{path}: truncated AEDAT 3.1 packet header at byte {pos}")
        head = np.frombuffer(data, PACKET_HEADER, count=1, offset=pos)[0]
        size, capacity = int(head["size"]), int(head["capacity"])
        start, pos = pos + PACKET_HEADER.itemsize, pos + PACKET_HEADER.itemsize + size * capacity
        if size < 0 or capacity < 0 or pos > len(data):
            raise DataError(
                f"{path}: truncated AEDAT 3.1 packet at byte {start - 28} ({capacity} events of "
                f"{size} bytes declared, {len(data) - start} bytes left)"
            )
        if int(head["type"]) != POLARITY_EVENT or int(head["number"]) == 0:
            continue
        if size != 8:
            raise DataError(f"{path}: polarity events must be 8 bytes, packet at byte {start - 28} says {size}")
        ev = np.frombuffer(data, "<u4", count=2 * int(head["number"]), offset=start).reshape(-1, 2)
        f = unpack_fields(ev[:, 0], POLARITY_AEDAT31_FIELDS)
        keep = f["valid"] == 1
        t = (np.int64(int(head["ts_overflow"])) << 31) | ev[keep, 1].astype(np.int64)
        chunks.append(make_events(t, f["x"][keep], f["y"][keep], f["p"][keep]))
    return np.concatenate(chunks) if chunks else make_events(np.zeros(0, np.int64), np.zeros(0, np.int64))


def write_aedat31(path: str | Path, x, y, p, t, packet_events: int = 1000, valid=None) -> Path:
    """Write polarity events as an AEDAT 3.1 file, ``packet_events`` per packet (timestamps
    below 2**31 us; an APS-frame packet of no events first, as cameras write other types too)."""
    t = np.asarray(t, np.uint32)
    valid = np.ones(len(t), np.uint32) if valid is None else np.asarray(valid, np.uint32)
    data = pack_fields({"x": x, "y": y, "p": p, "valid": valid}, POLARITY_AEDAT31_FIELDS)
    out = [AEDAT31_MAGIC + b"\r\n#Format: RAW\r\n#Source 1: DVS128\r\n", END_HEADER]
    out.append(np.array([(2, 1, 8, 4, 0, 0, 0, 0)], PACKET_HEADER).tobytes())
    for lo in range(0, len(t), packet_events):
        chunk = slice(lo, lo + packet_events)
        n = len(t[chunk])
        out.append(np.array([(POLARITY_EVENT, 1, 8, 4, 0, n, n, int(valid[chunk].sum()))], PACKET_HEADER).tobytes())
        out.append(np.stack([data[chunk], t[chunk]], axis=1).astype("<u4").tobytes())
    Path(path).write_bytes(b"".join(out))
    return Path(path)


__all__ = ["read_aedat2", "read_aedat31", "read_cifar10dvs", "write_aedat2", "write_aedat31"]
