// For tests only (imported by *.test.ts, never by the app, so it is not in the build): a WebSocket
// the test drives from the server's side, recording what the client sent.
import type { SocketLike } from "./live";

export class FakeSocket implements SocketLike {
  static made: FakeSocket[] = []; // every socket opened, oldest first; a test empties it
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  sent: unknown[] = [];
  closed: number | null = null; // the code the client closed with

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.made.push(this);
  }

  static last(): FakeSocket {
    const socket = FakeSocket.made.at(-1);
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000): void {
    this.closed = code;
    this.onclose?.({ code } as CloseEvent);
  }

  /** A frame from the server (``raw``: as is, else JSON-encoded). */
  frame(body: object, raw?: unknown): void {
    this.onmessage?.({ data: raw ?? JSON.stringify(body) } as MessageEvent);
  }

  /** The server drops the connection, or refuses the handshake (1006). */
  drop(code = 1006): void {
    this.onclose?.({ code } as CloseEvent);
  }
}
