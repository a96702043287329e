import { startSignaling, startStack } from '../../../services/signaling/test/support/stack';
const stack = await startStack({ sfuNodes: 2 });
const sig = await startSignaling(stack.redis.url);
console.log(`URL ${sig.url}`);
const stop = async () => { await sig.close(); await stack.close(); process.exit(0); };
process.on('SIGINT', stop); process.on('SIGTERM', stop);
setInterval(() => {}, 1000);
