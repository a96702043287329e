-- CreateEnum
CREATE TYPE "CallMode" AS ENUM ('idle', 'p2p', 'migrating_to_sfu', 'sfu', 'migrating_to_p2p');

-- CreateEnum
CREATE TYPE "TransitionResult" AS ENUM ('pending', 'completed', 'rolled_back', 'aborted');

-- CreateEnum
CREATE TYPE "MetricSource" AS ENUM ('producer', 'consumer', 'transport');

-- CreateTable
CREATE TABLE "call_session" (
    "id" CHAR(32) NOT NULL,
    "room_id" TEXT NOT NULL,
    "mode" "CallMode" NOT NULL DEFAULT 'idle',
    "mode_version" INTEGER NOT NULL DEFAULT 0,
    "max_participants" INTEGER,
    "sfu_node_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "router_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "transition_count" INTEGER NOT NULL DEFAULT 0,
    "last_transition_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "call_session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "call_participant" (
    "id" CHAR(32) NOT NULL,
    "call_id" CHAR(32) NOT NULL,
    "identity" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "joined_at" TIMESTAMPTZ(3) NOT NULL,
    "left_at" TIMESTAMPTZ(3),
    "mode_at_join" "CallMode" NOT NULL DEFAULT 'idle',
    "node_id" TEXT,
    "transport_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "producer_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "leave_reason" TEXT,

    CONSTRAINT "call_participant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mode_transition" (
    "id" TEXT NOT NULL,
    "call_id" CHAR(32) NOT NULL,
    "from_mode" "CallMode" NOT NULL,
    "to_mode" "CallMode" NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 1,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "duration_ms" INTEGER,
    "media_gaps" JSONB,
    "max_gap_ms" INTEGER,
    "result" "TransitionResult" NOT NULL DEFAULT 'pending',

    CONSTRAINT "mode_transition_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "call_metrics" (
    "id" CHAR(32) NOT NULL,
    "call_id" CHAR(32) NOT NULL,
    "participant_id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "source" "MetricSource" NOT NULL,
    "source_id" TEXT NOT NULL,
    "kind" TEXT,
    "sampled_at" TIMESTAMPTZ(3) NOT NULL,
    "interval_ms" INTEGER NOT NULL,
    "bitrate_in" DOUBLE PRECISION NOT NULL,
    "bitrate_out" DOUBLE PRECISION NOT NULL,
    "packet_loss" DOUBLE PRECISION NOT NULL,
    "jitter_ms" DOUBLE PRECISION,
    "rtt_ms" DOUBLE PRECISION,
    "frames_decoded" INTEGER,
    "frames_dropped" INTEGER,
    "spatial_layer" INTEGER,
    "temporal_layer" INTEGER,

    CONSTRAINT "call_metrics_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "call_session_active_idx" ON "call_session"("ended_at", "started_at" DESC);

-- CreateIndex
CREATE INDEX "call_session_room_idx" ON "call_session"("room_id", "started_at" DESC);

-- CreateIndex
CREATE INDEX "call_participant_call_idx" ON "call_participant"("call_id", "joined_at");

-- CreateIndex
CREATE INDEX "mode_transition_call_idx" ON "mode_transition"("call_id", "started_at");

-- CreateIndex
CREATE INDEX "call_metrics_call_time_idx" ON "call_metrics"("call_id", "sampled_at");

-- CreateIndex
CREATE INDEX "call_metrics_participant_idx" ON "call_metrics"("call_id", "participant_id", "sampled_at");

-- AddForeignKey
ALTER TABLE "call_participant" ADD CONSTRAINT "call_participant_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call_session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mode_transition" ADD CONSTRAINT "mode_transition_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call_session"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "call_metrics" ADD CONSTRAINT "call_metrics_call_id_fkey" FOREIGN KEY ("call_id") REFERENCES "call_session"("id") ON DELETE CASCADE ON UPDATE CASCADE;
