"""An MQTT subscriber for the long-lived relay tests (test_names.py): paho-mqtt
(Debian's python3-paho-mqtt) with a 600 s keepalive, over plain TCP or TLS,
straight to an address or through an HTTP CONNECT proxy (pinshim's forward
listener: paho has no HTTP proxy of its own, so the CONNECT exchange is done
here and paho's TLS runs over the tunnel it opened).

Prints one line per event, flushed: "subscribed", "message PAYLOAD",
"disconnected RC"; exits after the first message or a disconnect.

Usage: mqtt_sub.py --name HOST --port PORT [--addr ADDR] [--proxy H:P]
                   [--cafile PEM] --topic T
"""

import argparse
import os
import socket
import sys

import paho.mqtt.client as mqtt


def say(line):
    print(line, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)  # TLS name, CONNECT host
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--addr")                 # connect here (default: name)
    ap.add_argument("--proxy")                # HOST:PORT of a CONNECT proxy
    ap.add_argument("--cafile")               # TLS when given
    ap.add_argument("--topic", required=True)
    a = ap.parse_args()

    class Sub(mqtt.Client):
        def _create_socket_connection(self):
            if not a.proxy:
                return socket.create_connection((a.addr or a.name, a.port),
                                                timeout=20)
            host, port = a.proxy.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=20)
            s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (
                a.name, a.port, a.name, a.port)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(1)
                if not chunk:
                    raise OSError("proxy closed during CONNECT")
                head += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                raise OSError("proxy said %r" % head.split(b"\r\n")[0])
            return s

    c = Sub(client_id="pnm-sub-%d" % os.getpid(), clean_session=True)
    if a.cafile:
        c.tls_set(ca_certs=a.cafile)

    def on_connect(client, userdata, flags, rc):
        client.subscribe(a.topic, qos=1)

    def on_subscribe(client, userdata, mid, granted):
        say("subscribed")

    def on_message(client, userdata, msg):
        say("message " + msg.payload.decode(errors="replace"))
        client.disconnect()

    def on_disconnect(client, userdata, rc):
        say("disconnected %d" % rc)
        os._exit(0)     # loop_forever would reconnect: the test is over

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.on_disconnect = on_disconnect
    c.connect(a.name, a.port, keepalive=600)
    c.loop_forever(retry_first_connection=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
