// Replays the Python client's sample values in the TypeScript client, for test_agreement.py.
// stdin: one JSON object a line: {task: wire name, args: hex of the msgpack arguments, id, now,
// priority}. stdout: one line each, the hex of the envelope the TypeScript client encodes for
// the same values (read from the arguments into TypeScript values first), "invalid: <message>"
// when the client refuses them (a ValidationError), or "error: ..." for anything else.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const dist = process.argv[2];
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const tasks = await load("tasks.js");
const { Decoder } = await load("runtime/decode.js");
const { encodeEnvelope } = await load("runtime/envelope.js");
const { Reader } = await load("runtime/msgpack.js");
const { fromHex } = await load("runtime/encode.js");
const { ValidationError } = await load("runtime/errors.js");

const byName = new Map();
for (const value of Object.values(tasks)) {
  if (value && typeof value === "object" && "fingerprint" in value && "params" in value) {
    byName.set(value.name, value);
  }
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const sample = JSON.parse(line);
  try {
    const task = byName.get(sample.task);
    const decoder = new Decoder(task.definitions, false);
    const map = Reader.decode(fromHex(sample.args));
    const args = {};
    for (const param of task.params) {
      if (!map.has(param.name)) continue; // left out: the client fills in its default
      args[param.name] = decoder.value(map.get(param.name), param.type, `$.${param.name}`);
    }
    const envelope = encodeEnvelope(task, args, {
      id: sample.id,
      enqueuedAt: sample.now,
      priority: sample.priority,
      expiresAt: 0,
    });
    process.stdout.write(hex(envelope) + "\n");
  } catch (exc) {
    if (exc instanceof ValidationError) {
      process.stdout.write(`invalid: ${exc.message}\n`);
      continue;
    }
    process.stdout.write(`error: ${exc && exc.stack ? exc.stack.split("\n").slice(0, 3).join(" | ") : exc}\n`);
  }
}
