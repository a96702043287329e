import { CallView } from '../../../components/CallView';
import { signalingUrls } from '../../../lib/config';

// The signaling URLs come from the server's environment at request time.
export const dynamic = 'force-dynamic';

export default async function CallPage({
  params,
  searchParams,
}: {
  params: Promise<{ roomId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { roomId } = await params;
  const query = await searchParams;
  const one = (key: string) => {
    const value = query[key];
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  };
  return (
    <CallView
      roomId={decodeURIComponent(roomId)}
      name={one('name') ?? 'Guest'}
      cameraId={one('camera')}
      microphoneId={one('microphone')}
      signalingUrls={signalingUrls()}
      debug={one('debug') === '1'}
      videoCodec={one('codec') === 'av1' ? 'av1' : 'vp8'}
      videoHeight={Math.min(1080, Math.max(180, Number(one('height') ?? 720) || 720))}
    />
  );
}
