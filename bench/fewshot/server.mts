// The benchmark's model server, in its own process so that its CPU time does not slow the client down:
// the fake OpenAI-compatible server (vLLM flavour: /v1/completions with logprobs and prompt lists) with a fixed
// latency per request. Prints {"baseURL": …} on stdout when listening; stops on SIGTERM or when stdin closes.
import { startFakeServer } from '../../test/support/fake-openai-server';

const latencyMs = Number(process.argv[2] ?? 100);
const server = await startFakeServer({ flavour: 'vllm', latencyMs });
process.stdout.write(`${JSON.stringify({ baseURL: server.baseURL })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
