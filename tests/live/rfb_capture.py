#!/usr/bin/env python3
"""Capture a VNC server's screen and check it shows a grid of solid colour blocks.

The live kiosk test (kiosk-smoke.sh) uses this to see what the kiosk image's chromium shows,
through the image's own wayvnc. Python 3 standard library only, so that it runs on any CI host.

    rfb_capture.py --port 15900 --grid 3x2 --colours d02020,20a040,... --png kiosk.png

connects to the RFB server (retrying until --timeout), asks for whole frames, and stops at the
first frame whose blocks all have their expected colours (exit 0), or at the deadline (exit 1).
Either way the last frame is written to --png (once, at the end). `--png-only` captures one frame and exits.
`--check PNG` runs the same colour check on a PNG this script wrote, without a server.

The page the grid describes is `columns x rows` blocks of equal size filling the screen, listed
row by row. A block matches when every sample point in it (its centre and four points 15% in
from its corners) is within --tolerance (Euclidean distance in RGB) of its colour: a page that
is shifted, scaled, covered by a bar, or of other colours fails.

The RFB client is the minimum RFC 6143 needs: protocol 3.8 (3.7 and 3.3 accepted), security type
None, a shared session, 32-bit true colour, the Raw encoding only, whole-frame requests.
"""

import argparse
import os
import socket
import struct
import sys
import time
import zlib


class RfbError(Exception):
    pass


def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise RfbError(f"the server closed the connection ({len(data)} of {count} bytes read)")
        data += chunk
    return bytes(data)


class RfbClient:
    """One connection to an RFB server, with the frame kept as 0xRRGGBB values row by row."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._handshake()

    def close(self):
        self.sock.close()

    def _handshake(self):
        server_version = recv_exact(self.sock, 12)
        if not server_version.startswith(b"RFB "):
            raise RfbError(f"not an RFB server: {server_version!r}")
        major, minor = int(server_version[4:7]), int(server_version[8:11])
        version = (3, 8) if (major, minor) >= (3, 8) else (3, minor if minor in (3, 7) else 3)
        self.sock.sendall(b"RFB %03d.%03d\n" % version)
        if version >= (3, 7):
            count = recv_exact(self.sock, 1)[0]
            if count == 0:
                raise RfbError(f"the server refused the connection: {self._reason()}")
            types = recv_exact(self.sock, count)
            if 1 not in types:
                raise RfbError(
                    f"the server offers security types {list(types)}, not None (1): "
                    "is authentication enabled in wayvnc's config?"
                )
            self.sock.sendall(bytes([1]))
        else:
            (security,) = struct.unpack(">I", recv_exact(self.sock, 4))
            if security == 0:
                raise RfbError(f"the server refused the connection: {self._reason()}")
            if security != 1:
                raise RfbError(f"the server requires security type {security}, not None (1)")
        if version >= (3, 8):
            (result,) = struct.unpack(">I", recv_exact(self.sock, 4))
            if result != 0:
                raise RfbError(f"security handshake failed: {self._reason()}")
        # ClientInit: shared, so the capture does not disconnect anyone else.
        self.sock.sendall(bytes([1]))
        header = recv_exact(self.sock, 24)
        self.width, self.height = struct.unpack(">HH", header[:4])
        (name_length,) = struct.unpack(">I", header[20:24])
        self.name = recv_exact(self.sock, name_length).decode("utf-8", "replace")
        # SetPixelFormat: 32 bits per pixel, depth 24, little-endian, true colour,
        # red/green/blue maxima 255 at shifts 16/8/0, i.e. the bytes B, G, R, padding.
        pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        self.sock.sendall(struct.pack(">B3x", 0) + pixel_format)
        # SetEncodings: Raw (0) only.
        self.sock.sendall(struct.pack(">BxHi", 2, 1, 0))
        self.frame = Frame(self.width, self.height)

    def _reason(self):
        (length,) = struct.unpack(">I", recv_exact(self.sock, 4))
        return recv_exact(self.sock, length).decode("utf-8", "replace")

    def request_frame(self):
        """Ask for the whole frame (non-incremental) and read the update that answers it."""
        self.sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, self.width, self.height))
        while True:
            kind = recv_exact(self.sock, 1)[0]
            if kind == 0:  # FramebufferUpdate
                (rectangles,) = struct.unpack(">xH", recv_exact(self.sock, 3))
                for _ in range(rectangles):
                    self._read_rectangle()
                return
            if kind == 1:  # SetColourMapEntries: meaningless in true colour, skip it
                (_, count) = struct.unpack(">xHH", recv_exact(self.sock, 5))
                recv_exact(self.sock, 6 * count)
            elif kind == 2:  # Bell
                pass
            elif kind == 3:  # ServerCutText
                (length,) = struct.unpack(">3xI", recv_exact(self.sock, 7))
                recv_exact(self.sock, length)
            else:
                raise RfbError(f"unexpected server message type {kind}")

    def _read_rectangle(self):
        x, y, width, height, encoding = struct.unpack(">HHHHi", recv_exact(self.sock, 12))
        if encoding != 0:
            raise RfbError(f"the server sent encoding {encoding}, though only Raw (0) was asked")
        if x + width > self.width or y + height > self.height:
            raise RfbError(f"rectangle {width}x{height}+{x}+{y} is outside the frame")
        data = recv_exact(self.sock, width * height * 4)
        for row in range(height):
            start = ((y + row) * self.width + x) * 4
            self.frame.bgrx[start : start + width * 4] = data[row * width * 4 : (row + 1) * width * 4]


class Frame:
    """A frame as the server sent it (B, G, R, padding per pixel, row by row), decoded only where
    read: pixel `frame[i]` is 0xRRGGBB. Decoding every pixel of every frame in Python cost about a
    second of CPU per frame, which many captures at once (bench/kiosks.sh) cannot afford."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.bgrx = bytearray(width * height * 4)

    def __getitem__(self, index):
        blue, green, red = self.bgrx[index * 4 : index * 4 + 3]
        return (red << 16) | (green << 8) | blue

    def rgb_row(self, row):
        line = self.bgrx[row * self.width * 4 : (row + 1) * self.width * 4]
        rgb = bytearray(self.width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = line[2::4], line[1::4], line[0::4]
        return rgb


def write_png(path, frame):
    """Write a Frame as an 8-bit RGB PNG."""
    width, height = frame.width, frame.height
    raw = bytearray()
    for row in range(height):
        raw.append(0)  # filter type None
        raw += frame.rgb_row(row)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 6))
    png += chunk(b"IEND", b"")
    temporary = path + ".part"
    with open(temporary, "wb") as file:
        file.write(png)
    os.replace(temporary, path)


def read_png(path):
    """Read a PNG this script wrote (8-bit RGB, filter None); returns (width, height, pixels)."""
    with open(path, "rb") as file:
        data = file.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RfbError(f"{path} is not a PNG")
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    if header is None or header[2:] != (8, 2, 0, 0, 0):
        raise RfbError(f"{path} is not an 8-bit RGB PNG written by rfb_capture.py")
    width, height = header[0], header[1]
    raw = zlib.decompress(idat)
    pixels = []
    stride = 1 + width * 3
    for row in range(height):
        line = raw[row * stride : (row + 1) * stride]
        if line[0] != 0:
            raise RfbError(f"{path} uses PNG filters; only files written by this script are read")
        for column in range(width):
            red, green, blue = line[1 + column * 3 : 4 + column * 3]
            pixels.append((red << 16) | (green << 8) | blue)
    return width, height, pixels


def check_grid(width, height, pixels, columns, rows, colours, tolerance):
    """Return the list of mismatches (empty when every block shows its colour)."""
    problems = []
    for index, expected in enumerate(colours):
        column, row = index % columns, index // columns
        left, top = width * column / columns, height * row / rows
        block_width, block_height = width / columns, height / rows
        for fx, fy in ((0.5, 0.5), (0.15, 0.15), (0.85, 0.15), (0.15, 0.85), (0.85, 0.85)):
            x, y = int(left + fx * block_width), int(top + fy * block_height)
            value = pixels[y * width + x]
            distance = sum(
                ((value >> shift & 255) - (expected >> shift & 255)) ** 2 for shift in (16, 8, 0)
            ) ** 0.5
            if distance > tolerance:
                problems.append(
                    f"block {index} (column {column}, row {row}) at ({x},{y}): "
                    f"#{value:06x}, expected #{expected:06x} (distance {distance:.0f})"
                )
    return problems


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5900)
    parser.add_argument("--png", required=True, help="where to write the last frame")
    parser.add_argument("--grid", default="3x2", help="COLUMNSxROWS of the page's blocks")
    parser.add_argument("--colours", help="the blocks' colours, RRGGBB, comma-separated, row by row")
    parser.add_argument("--tolerance", type=float, default=24.0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds until giving up")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between frames")
    parser.add_argument("--size", help="the frame size the server must have, WIDTHxHEIGHT")
    parser.add_argument("--png-only", action="store_true", help="capture one frame, check nothing")
    parser.add_argument("--check", action="store_true", help="check --png, connect to nothing")
    return parser.parse_args()


def main():
    args = parse_args()
    columns, rows = (int(part) for part in args.grid.split("x"))
    colours = [int(colour, 16) for colour in (args.colours or "").split(",") if colour]
    if not args.png_only and len(colours) != columns * rows:
        sys.exit(f"error: --colours has {len(colours)} colours for a {args.grid} grid")

    if args.check:
        width, height, pixels = read_png(args.png)
        problems = check_grid(width, height, pixels, columns, rows, colours, args.tolerance)
        for problem in problems:
            print(f"mismatch: {problem}", file=sys.stderr)
        print(f"{args.png}: {'matches' if not problems else 'does not match'} the expected page")
        return 0 if not problems else 1

    started = time.monotonic()
    deadline = started + args.timeout
    client, last_error, problems, frames, frame = None, None, None, 0, None
    while time.monotonic() < deadline:
        try:
            if client is None:
                client = RfbClient(args.host, args.port, timeout=10)
                if args.size and f"{client.width}x{client.height}" != args.size:
                    raise RfbError(f"the frame is {client.width}x{client.height}, not {args.size}")
            client.request_frame()
            frames += 1
            frame = client.frame
            if args.png_only:
                write_png(args.png, frame)
                print(f"captured {client.width}x{client.height} from {client.name!r}")
                return 0
            problems = check_grid(
                client.width, client.height, client.frame, columns, rows, colours, args.tolerance
            )
            if not problems:
                write_png(args.png, frame)
                print(
                    f"frame {frames} ({client.width}x{client.height}, {client.name!r}) shows the "
                    f"expected page after {time.monotonic() - started:.1f}s"
                )
                return 0
        except (OSError, RfbError) as error:
            if client is not None:
                client.close()
                client = None
            if isinstance(error, RfbError) and "not None" in str(error):
                sys.exit(f"error: {error}")
            last_error = error
        time.sleep(args.interval)
    if frame is not None:
        write_png(args.png, frame)
    if problems:
        for problem in problems:
            print(f"mismatch: {problem}", file=sys.stderr)
        print(f"{frames} frames in {args.timeout:.0f}s, none showed the expected page; "
              f"the last is {args.png}", file=sys.stderr)
    else:
        print(f"no frame from {args.host}:{args.port} in {args.timeout:.0f}s: {last_error}",
              file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
