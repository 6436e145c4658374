"""A loopback SMTP sink for the benches, run in its own process: it speaks just enough
ESMTP (PIPELINING, SIZE, 8BITMIME) to take mail as fast as a real MTA's front end.

It counts the recipients of each accepted message and, every 20 ms when the count
changed, writes "delivered first last signed" to its status file (first and last:
epoch seconds). With an arrivals file it also appends "message-id monotonic-seconds"
for each message, once per Message-ID (bench/latency.py reads it).

    python bench/sink.py PORT STATUS [ARRIVALS]
"""

import asyncio
import os
import re
import signal
import sys
import time

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.MULTILINE | re.IGNORECASE)
STATUS = sys.argv[2]
ARRIVALS = sys.argv[3] if len(sys.argv) > 3 else ""
state = {"delivered": 0, "first": 0.0, "last": 0.0, "written": -1, "signed": 0}
arrived: dict[bytes, float] = {}
unwritten: list[tuple[bytes, float]] = []


class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer, self.in_data, self.recipients = transport, b"", False, 0
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buffer += chunk
        out = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                state["signed"] += self.buffer.startswith(b"\r\nDKIM-Signature:")
                if ARRIVALS:
                    self.note_arrival(self.buffer[:end])
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                now = time.time()
                if not state["delivered"]:
                    state["first"] = now
                state["delivered"] += self.recipients
                state["last"] = now
                self.recipients = 0
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n")
            elif verb == b"MAIL":
                self.recipients = 0
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                self.recipients += 1
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                self.buffer = b"\r\n" + self.buffer  # so a body ending at once is found
                self.in_data = True
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"".join(out) + b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            else:
                out.append(b"250 2.0.0 Ok\r\n")
        if out:
            self.transport.write(b"".join(out))

    @staticmethod
    def note_arrival(message: bytes) -> None:
        head = message.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        if found and found.group(1) not in arrived:
            arrived[found.group(1)] = time.monotonic()
            unwritten.append((found.group(1), arrived[found.group(1)]))


def write_status() -> None:
    if unwritten:
        with open(ARRIVALS, "ab") as file:
            file.write(b"".join(b"%s %.6f\n" % pair for pair in unwritten))
        unwritten.clear()
    if state["delivered"] != state["written"]:
        state["written"] = state["delivered"]
        with open(STATUS + ".tmp", "w") as file:
            file.write(f"{state['delivered']} {state['first']} {state['last']} {state['signed']}")
        os.replace(STATUS + ".tmp", STATUS)


async def report():
    while True:
        await asyncio.sleep(0.02)
        write_status()


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", int(sys.argv[1]))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(report())
    await stop.wait()
    task.cancel()
    server.close()
    write_status()


asyncio.run(main())
