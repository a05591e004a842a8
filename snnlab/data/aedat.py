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


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise DataError(f"AEDAT file not found: {path}") from err


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
    if not data.startswith(AEDAT2_MAGIC):
        raise DataError(f"{path}: not an AEDAT 2.0 file (first line {data[:16]!r}; expected '#!AER-DAT2.0')")
    body = data[_skip_hash_lines(data) :]
    if len(body) % 8:
        raise DataError(f"{path}: truncated AEDAT 2.0 body ({len(body)} bytes, not a multiple of 8-byte events)")
    words = np.frombuffer(body, dtype=">u4").reshape(-1, 2)
    return words[:, 0].astype(np.uint32), words[:, 1].astype(np.uint32)


def read_cifar10dvs(path: str | Path) -> np.ndarray:
    """Events of one CIFAR10-DVS recording (128 x 128 x 2), oriented as spikingjelly reads them."""
    addr, t = read_aedat2(path)
    x_raw, y_raw, p_raw = (addr >> 1) & 0x7F, (addr >> 8) & 0x7F, addr & 1
    return make_events(t.astype(np.int64), 127 - y_raw, 127 - x_raw, 1 - p_raw)


def write_aedat2(path: str | Path, x, y, p, t) -> Path:
    """Write raw DVS128 events (sensor coordinates, polarity bit) as an AEDAT 2.0 file."""
    addr = (np.asarray(y, np.uint32) << 8) | (np.asarray(x, np.uint32) << 1) | np.asarray(p, np.uint32)
    words = np.stack([addr, np.asarray(t, np.uint32)], axis=1).astype(">u4")
    Path(path).write_bytes(AEDAT2_MAGIC + b"\r\n# This is a raw AE data file - do not edit\r\n" + words.tobytes())
    return Path(path)


def _aedat31_body(data: bytes, path: Path) -> int:
    if not data.startswith(b"#!AER-DAT3.1"):
        raise DataError(f"{path}: not an AEDAT 3.1 file (first line {data[:16]!r}; expected '#!AER-DAT3.1')")
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
        ev = ev[(ev[:, 0] & 1) == 1]
        t = (np.int64(int(head["ts_overflow"])) << 31) | ev[:, 1].astype(np.int64)
        chunks.append(make_events(t, (ev[:, 0] >> 17) & 0x7FFF, (ev[:, 0] >> 2) & 0x7FFF, (ev[:, 0] >> 1) & 1))
    return np.concatenate(chunks) if chunks else make_events(np.zeros(0, np.int64), np.zeros(0, np.int64))


def write_aedat31(path: str | Path, x, y, p, t, packet_events: int = 1000, valid=None) -> Path:
    """Write polarity events as an AEDAT 3.1 file, ``packet_events`` per packet (timestamps
    below 2**31 us; an APS-frame packet of no events first, as cameras write other types too)."""
    x, y, p, t = (np.asarray(v, np.uint32) for v in (x, y, p, t))
    valid = np.ones(len(t), np.uint32) if valid is None else np.asarray(valid, np.uint32)
    data = (x << 17) | (y << 2) | (p << 1) | valid
    out = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n", END_HEADER]
    out.append(np.array([(2, 1, 8, 4, 0, 0, 0, 0)], PACKET_HEADER).tobytes())
    for lo in range(0, len(t), packet_events):
        chunk = slice(lo, lo + packet_events)
        n = len(t[chunk])
        out.append(np.array([(POLARITY_EVENT, 1, 8, 4, 0, n, n, int(valid[chunk].sum()))], PACKET_HEADER).tobytes())
        out.append(np.stack([data[chunk], t[chunk]], axis=1).astype("<u4").tobytes())
    Path(path).write_bytes(b"".join(out))
    return Path(path)


__all__ = ["read_aedat2", "read_aedat31", "read_cifar10dvs", "write_aedat2", "write_aedat31"]
