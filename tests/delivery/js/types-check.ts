// Compiled with `tsc --noEmit --strict` by tests/delivery/test_js_client.py: the declarations in
// wsgate-client.d.ts must accept this use and refuse the lines marked @ts-expect-error.
import { WsgateClient, type TrackedMessage, type ContinuityLost } from "../../../src/wsgate/delivery/static/wsgate-client";

interface ChatMessage {
  type: "message";
  text: string;
}

const client = new WsgateClient("wss://example.execute-api.eu-west-1.amazonaws.com/prod", {
  onConnect: async (c) => {
    await c.request({ action: "join", room: "lobby" });
  },
  gapTimeout: 500,
  storage: null,
});

const off: () => void = client.on("message", (m: TrackedMessage) => {
  const chat = m.data as unknown as ChatMessage;
  const line: string = `${m.stream}#${m.seq}: ${chat.text}`;
  void line;
});
off();
client.on("continuityLost", (e: ContinuityLost) => {
  const hole: number = e.to - e.from;
  void hole;
});
client.on("close", (e) => void e.code.toFixed());
const sent: boolean = client.send({ action: "ping" });
void sent;
client
  .request({ action: "sendMessage", text: "hi" })
  .then((answer) => answer.status === "accepted" && !answer.duplicate);
const position: number = client.position("room:lobby");
void position;
client.forget("room:lobby");
client.drop();
client.close();
const fromWindow: typeof WsgateClient = window.WsgateClient;
void fromWindow;

// @ts-expect-error: no such event
client.on("messages", () => undefined);
// @ts-expect-error: a position is a number
const wrong: string = client.position("room:lobby");
void wrong;
// @ts-expect-error: unknown option
new WsgateClient("wss://x", { reconnectDelay: 5 });
