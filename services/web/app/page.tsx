import { Lobby } from '../components/Lobby';

export default function LobbyPage() {
  return <Lobby />;
}
