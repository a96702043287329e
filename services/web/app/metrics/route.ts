import { webMetrics } from '../../lib/metrics';

// Read at every scrape, never prerendered at build time.
export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  const { registry } = webMetrics();
  return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } });
}
