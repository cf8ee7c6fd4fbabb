"""Voice channel under load: concurrent calls held in the IVR and bridged to agents, driven by sipp (issue #6).

Prints one JSON object on stdout (logs on stderr). For each N of ``--calls`` (default 50 100 150):

- ``ivr``: sipp places N calls (``-l N -m N -r RATE``) that answer, send RTP audio from a pcap and stay in the main
  menu for ``--ivr-hold`` s; meanwhile ``--probes`` probe calls (``voice_calls_peers.ProbeCaller``, one after
  another) measure INVITE → 100 / 200 OK / first RTP packet / first non-silent packet (the first prompt frame);
- ``bridged``: sipp places N calls that press 0 (RFC 4733 pcap) and then send audio for ``--bridge-hold`` s; K echo
  agents (registered with Digest) answer; ``--bridge-probes`` probe callers also press 0 and, once bridged, send
  marked RTP through caller → hub → agent (echo) → hub → caller: relay delay = (RTT − echo time) / 2 per packet,
  loss = marked packets that never came back; the anchor is the same probes' packets sent straight to the agents'
  echo socket (RTT / 2 without the hub, the benchmark process's own share).

The hub runs in its own process (``voice_calls_hub.py``, built like the tests build one) so that its CPU% and RSS
(read from /proc/<pid>/stat and /status) are its own and not those of sipp, the probes or the echo agents; sipp's
and this process's CPU are reported next to it. Each phase also reports sipp's successful/failed calls, sipp's own
INVITE → 200 response times of the N load calls, the hub's concurrent calls seen on /healthz and the media clock's
late_ms_max (``components.channels.voice.media_late_ms_max``, reset per phase). Finally ``bench/asr_rtf.py``
runs (``--asr-streams``) and its figures are included.

With ``--chats N`` the hub also has ``ceil(N / 3)`` chat agents (``--chat-agents``; no softphone, a queue of their
own, capacity 3; see ``voice_calls_hub.py``), idle during the phases above. After them, the hub opens N web chats
through its conversation service (``GET /_bench/chats?open=N``, waiting until every one is assigned), which from then
on receive ``--chat-rate`` messages/s (agent replies and citizen messages, alternately), and the bridged phase runs
again for each N of ``--calls`` (``bridged-<calls>+chats<N>``). ``chats.comparison`` puts its relay delay, loss and hub
CPU next to the same phase without chats of the same run and the same hub (the anchor); the chat traffic's own
figures (messages sent, achieved rate, time per send) are in the phase's ``chats``.

    python bench/voice_calls.py [--calls 50 100 150] [--rate 50] [--profile bridged-150] [--no-gc-freeze]
                                [--chats 300] [--chat-rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from voice_calls_peers import HOST, EchoAgents, ProbeCaller, ProbeResult  # noqa: E402
from voice_calls_stats import HubProcess, Sampler, percentiles, sipp_results  # noqa: E402

from tests.channels.voice.sipp_calls import dtmf_pcap, free_udp_port, scenario, tone_pcm, write_rtp_pcap  # noqa: E402

log = logging.getLogger("bench.voice_calls")
SIPP = shutil.which("sipp")
TARGETS = {
    "calls": 150,
    "relay_p99_ms": 20.0,
    "loss_pct": 0.0,
    "invite_200_p99_ms": 100.0,
    "first_prompt_p99_ms": 300.0,
}


async def run_sipp(xml: str, hub: HubProcess, work: Path, name: str, n: int, rate: int, limit_s: float) -> dict:
    """sipp UAC with ``xml``; its statistics and per-call INVITE → 200 times."""
    assert SIPP is not None
    folder = work / name
    folder.mkdir()
    (folder / "scenario.xml").write_text(xml, encoding="ascii")
    proc = await asyncio.create_subprocess_exec(
        SIPP, "-sf", "scenario.xml", f"{HOST}:{hub.sip_port}", "-i", HOST, "-p", str(free_udp_port()),
        "-mi", HOST, "-mp", str(free_udp_port()), "-m", str(n), "-l", str(n), "-r", str(rate),
        "-timeout", f"{int(limit_s)}s", "-timeout_error", "-nostdin", "-trace_stat", "-stf", "stat.csv",
        "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", "errors.log",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=folder,
    )  # fmt: skip
    _, stderr = await proc.communicate()
    result = sipp_results(folder)
    result["exit_code"] = proc.returncode
    if proc.returncode != 0:
        result["stderr_tail"] = stderr.decode(errors="replace")[-300:]
    return result


def probe_summary(results: list[ProbeResult]) -> dict[str, Any]:
    """Percentiles over the probes of a phase."""

    def times(attr: str) -> list[float]:
        return [v for r in results if (v := getattr(r, attr)) is not None]

    out: dict[str, Any] = {"probes": len(results), "errors": [r.error for r in results if r.error][:5]}
    out["error_count"] = sum(1 for r in results if r.error)
    for attr, label in (("trying_ms", "invite_to_100"), ("ok_ms", "invite_to_200"),
                        ("first_rtp_ms", "invite_to_first_rtp"), ("first_audio_ms", "invite_to_first_prompt"),
                        ("bridged_ms", "invite_to_bridged")):  # fmt: skip
        values = times(attr)
        if values:
            out[label] = percentiles(values)
    relay = [v for r in results for v in r.relay_ms]
    if relay or any(r.sent for r in results):
        sent = sum(r.sent for r in results)
        lost = sum(r.lost for r in results)
        out["relay_delay"] = percentiles(relay)
        out["relay_up"] = percentiles([v for r in results for v in r.up_ms])
        out["relay_down"] = percentiles([v for r in results for v in r.down_ms])
        out["anchor_direct_echo"] = percentiles([v for r in results for v in r.direct_ms])
        out["relay_packets"] = sent
        out["relay_lost"] = lost
        out["relay_loss_pct"] = round(100 * lost / sent, 3) if sent else None
    return out


async def phase(kind: str, n: int, args: argparse.Namespace, hub: HubProcess, agents: EchoAgents, work: Path,
                pcaps: dict[str, Path], next_id: list[int], *, label: str | None = None,
                chats: bool = False) -> dict[str, Any]:  # fmt: skip
    """One load phase: sipp load + probes, with the hub's CPU/RSS sampled throughout.

    ``label``: the phase's name (default ``<kind>-<n>``); ``chats``: the hub's chats are active, their traffic's
    figures over the phase are reported as ``chats``.
    """
    name = label or f"{kind}-{n}"
    log.info("phase %s", name)
    if kind == "ivr":
        steps: list[tuple[str, object]] = [("play", pcaps["ivr"]), ("pause", int(args.ivr_hold * 1000))]
    else:
        steps = [("pause", 500), ("play", dtmf_pcap("0")), ("pause", 1000), ("play", pcaps["bridge"]),
                 ("pause", int(args.bridge_hold * 1000))]  # fmt: skip
    await hub.get("/_bench/media?reset=1")
    if chats:
        await hub.get("/_bench/chats?reset=1")
    profiling = args.profile == name
    if profiling:
        await hub.get("/_bench/profile?action=start")
    answered_before = agents.answered
    agents.max_active = len(agents.active)
    sampler = Sampler(hub, agents)
    sampler.start()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    limit = args.ivr_hold + args.bridge_hold + 60
    sipp = asyncio.create_task(run_sipp(scenario(steps), hub, work, name, n, args.rate, limit))
    await asyncio.sleep(n / args.rate + 1.0)  # every load call placed
    probes: list[asyncio.Task[ProbeResult]] = []
    if kind == "ivr":
        spacing = max(0.1, (args.ivr_hold - 4.0) / max(1, args.probes))
        for _ in range(args.probes):
            next_id[0] += 1
            probes.append(asyncio.create_task(ProbeCaller(next_id[0], (HOST, hub.sip_port)).run(hold_s=1.0)))
            await asyncio.sleep(spacing)
    else:
        for _ in range(args.bridge_probes):
            next_id[0] += 1
            caller = ProbeCaller(next_id[0], (HOST, hub.sip_port), agents)
            probes.append(asyncio.create_task(caller.run(hold_s=0, bridge_s=args.bridge_measure)))
            await asyncio.sleep(0.2)
    results = list(await asyncio.gather(*probes))
    load = await sipp
    wall = time.perf_counter() - started
    usage = sampler.stop()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = (children_after.ru_utime + children_after.ru_stime - children.ru_utime - children.ru_stime) / wall
    out: dict[str, Any] = {"calls": n, "rate_per_s": args.rate, "wall_s": round(wall, 1), "sipp": load}
    out["hub"] = {**usage, "media_late_ms_max": (await hub.get("/_bench/media"))["late_ms_max"]}
    if chats:
        out["chats"] = await hub.get("/_bench/chats")
    out["sipp_cpu_pct"] = round(100 * sipp_cpu, 1)
    out["probes"] = probe_summary(results)
    if kind == "bridged":
        out["agents"] = {"answered": agents.answered - answered_before, "max_bridged_at_once": agents.max_active}
    if profiling:
        out["profile"] = await hub.get("/_bench/profile?action=stop")
    await asyncio.sleep(2.0)  # hang-ups and call records settle before the next phase
    return out


def chat_phase(n: int, chats: int) -> str:
    """The name of the bridged phase with ``chats`` active chats."""
    return f"bridged-{n}+chats{chats}"


def verdict(phases: dict[str, dict[str, Any]], calls: list[int], chats: int = 0) -> dict[str, Any]:
    """Targets at the largest N run, and the largest N that met every load target (without and with chats)."""

    def ok_at(n: int) -> tuple[bool, dict[str, Any]]:
        ivr, br = phases.get(f"ivr-{n}", {}), phases.get(f"bridged-{n}", {})
        probes = [p.get("probes", {}) for p in (ivr, br)]
        failed = sum(p.get("sipp", {}).get("failed", 0) or 0 for p in (ivr, br))
        all_ok = all(p.get("sipp", {}).get("successful") == n for p in (ivr, br))
        relay = br.get("probes", {}).get("relay_delay", {}).get("p99")
        loss = br.get("probes", {}).get("relay_loss_pct")
        inv = max((p.get("invite_to_200", {}).get("p99", float("inf")) for p in probes), default=float("inf"))
        first = ivr.get("probes", {}).get("invite_to_first_prompt", {}).get("p99", float("inf"))
        facts = {
            "sipp_failed_calls": failed,
            "relay_p99_ms": relay,
            "loss_pct": loss,
            "invite_200_p99_ms": inv,
            "first_prompt_p99_ms": first,
            "probe_errors": sum(p.get("error_count", 0) for p in probes),
        }
        met = {
            "all_calls_held": all_ok,
            "relay_p99": relay is not None and relay <= TARGETS["relay_p99_ms"],
            "no_loss": loss is not None and loss <= TARGETS["loss_pct"],
            "invite_200_p99": inv <= TARGETS["invite_200_p99_ms"],
            "first_prompt_p99": first <= TARGETS["first_prompt_p99_ms"],
        }
        return all(met.values()), {**facts, "met": met}

    per_n = {n: ok_at(n) for n in calls}
    top = max(calls)
    held = [n for n in calls if per_n[n][0]]
    facts = per_n[top][1]
    with_chats: dict[str, Any] = {}
    if chats:
        br = phases.get(chat_phase(top, chats), {})
        relay = br.get("probes", {}).get("relay_delay", {}).get("p99")
        loss = br.get("probes", {}).get("relay_loss_pct")
        held_ok = br.get("sipp", {}).get("successful") == top
        assigned = br.get("chats", {}).get("chats_assigned")
        with_chats = {
            f">= {TARGETS['calls']} concurrent calls + {chats} active chats with relay p99 <= 20 ms and no loss": (
                top >= TARGETS["calls"]
                and held_ok
                and assigned == chats
                and relay is not None
                and relay <= TARGETS["relay_p99_ms"]
                and loss is not None
                and loss <= TARGETS["loss_pct"]
            ),
            "with_chats": {
                "phase": chat_phase(top, chats),
                "all_calls_held": held_ok,
                "chats_assigned": assigned,
                "relay_p99_ms": relay,
                "loss_pct": loss,
            },
        }
    return {
        **with_chats,
        "evaluated_at_calls": top,
        "max_calls_meeting_all_targets": max(held) if held else 0,
        f">= {TARGETS['calls']} concurrent calls with relay p99 <= 20 ms and no loss": top >= TARGETS["calls"]
        and facts["met"]["all_calls_held"]
        and facts["met"]["relay_p99"]
        and facts["met"]["no_loss"],
        "relay_delay_p99 <= 20 ms": facts["met"]["relay_p99"],
        "no_loss": facts["met"]["no_loss"],
        "invite_to_200_p99 <= 100 ms": facts["met"]["invite_200_p99"],
        "invite_to_first_prompt_p99 <= 300 ms": facts["met"]["first_prompt_p99"],
        "per_calls": {str(n): per_n[n][1] for n in calls},
    }


async def asr_figures(streams: list[int]) -> dict[str, Any]:
    """bench/asr_rtf.py's JSON (run after the load phases, alone on the machine)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "asr_rtf.py"), "--streams", *map(str, streams),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    stdout, _ = await proc.communicate()
    try:
        result: dict[str, Any] = json.loads(stdout)
        return result
    except ValueError:
        return {"error": f"asr_rtf.py exited {proc.returncode} without JSON"}


def chat_comparison(phases: dict[str, dict[str, Any]], calls: list[int], chats: int) -> dict[str, Any]:
    """Per N: the bridged phase with active chats next to the same phase without (the anchor, same hub and run)."""

    def figures(result: dict[str, Any]) -> dict[str, Any]:
        probes, hub, sipp = result.get("probes", {}), result.get("hub", {}), result.get("sipp", {})
        return {
            "sipp_ok_failed": [sipp.get("successful"), sipp.get("failed")],
            "relay_delay_ms": probes.get("relay_delay"),
            "relay_lost": f"{probes.get('relay_lost')} / {probes.get('relay_packets')}",
            "relay_loss_pct": probes.get("relay_loss_pct"),
            "anchor_direct_echo_ms": probes.get("anchor_direct_echo"),
            "probe_invite_to_200_ms": probes.get("invite_to_200"),
            "sipp_invite_to_200_ms": sipp.get("invite_to_200_ms"),
            "hub_cpu_pct": hub.get("cpu_pct"),
            "machine_cpu_busy_pct_of_all_cores": hub.get("machine_cpu_busy_pct_of_all_cores"),
            "hub_rss_mib_max": hub.get("rss_mib_max"),
            "media_late_ms_max": hub.get("media_late_ms_max"),
        }

    out: dict[str, Any] = {}
    for n in calls:
        with_chats = phases.get(chat_phase(n, chats), {})
        out[str(n)] = {
            "without_chats (anchor)": figures(phases.get(f"bridged-{n}", {})),
            f"with_{chats}_chats": {**figures(with_chats), "chat_traffic": with_chats.get("chats")},
        }
    return out


def loadavg() -> str:
    """/proc/loadavg's 1/5/15-minute load (other work on the machine skews every figure)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if SIPP is None:
        raise SystemExit("sipp (apt sip-tester) is not installed")
    with tempfile.TemporaryDirectory(prefix="rexian-voice-bench-") as tmp:
        work = Path(tmp)
        pcaps = {  # a quiet 440 Hz tone: audio the hub receives (and relays when bridged)
            "ivr": write_rtp_pcap(work / "ivr.pcap", tone_pcm((440.0,), int(args.ivr_hold * 1000), 1500.0)),
            "bridge": write_rtp_pcap(work / "bridge.pcap", tone_pcm((440.0,), int(args.bridge_hold * 1000), 1500.0)),
        }
        agents_needed = args.agents or max(args.calls) + args.bridge_probes + 5
        max_calls = max(args.calls) + max(args.probes, args.bridge_probes) + 20
        chat_agents = (args.chat_agents or math.ceil(args.chats / 3)) if args.chats else 0
        hub = await HubProcess.start(
            work / "data",
            agents=agents_needed,
            max_calls=max_calls,
            gc_freeze=not args.no_gc_freeze,
            chat_agents=chat_agents,
            chat_rate=args.chat_rate,
        )
        try:
            agents = EchoAgents(hub.agents, (HOST, hub.sip_port))
            started = time.perf_counter()
            await agents.start()
            out: dict[str, Any] = {"loop": hub.loop, "machine": {"cpus": os.cpu_count(), "loadavg_start": loadavg()}}
            out["setup"] = {
                "agents_registered": len(hub.agents),
                "register_s": round(time.perf_counter() - started, 2),
                "prompts_warmed": hub.ready["prompts_warmed"],
                "gc_frozen_objects": hub.ready["gc_frozen_objects"],
                "hub_rss_mib_idle": hub.rss_mib(),
                "hub_warm_s": hub.ready.get("warm_s"),
                "chat_agents": hub.ready.get("chat_agents", 0),
            }
            next_id = [0]
            idle = [await ProbeCaller(i, (HOST, hub.sip_port)).run(hold_s=0.3) for i in range(1000, 1000 + 10)]
            out["idle_probes_anchor"] = probe_summary(idle)
            phases: dict[str, dict[str, Any]] = {}
            for n in args.calls:
                for kind in ("ivr", "bridged"):
                    phases[f"{kind}-{n}"] = await phase(kind, n, args, hub, agents, work, pcaps, next_id)
            if args.chats:
                log.info("opening %d chats", args.chats)
                opened = await hub.get(f"/_bench/chats?open={args.chats}")
                out["chats"] = {"chats": args.chats, "chat_agents": chat_agents, "rate_per_s": args.chat_rate,
                                "opened": opened, "hub_rss_mib_after_open": hub.rss_mib()}  # fmt: skip
                if opened["chats_assigned"] != args.chats:
                    log.warning("only %d of %d chats were assigned", opened["chats_assigned"], args.chats)
                for n in args.calls:
                    name = chat_phase(n, args.chats)
                    phases[name] = await phase("bridged", n, args, hub, agents, work, pcaps, next_id, label=name,
                                               chats=True)  # fmt: skip
                out["chats"]["comparison"] = chat_comparison(phases, args.calls, args.chats)
            out["phases"] = phases
            out["machine"]["loadavg_end"] = loadavg()
            out["targets"] = {"goal": TARGETS, **verdict(phases, args.calls, args.chats)}
            agents.close()
        finally:
            await hub.stop()
    if args.asr_streams:
        out["asr_rtf"] = await asr_figures(args.asr_streams)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 100, 150])
    parser.add_argument("--rate", type=int, default=50, help="sipp call rate (calls/s) while placing the load")
    parser.add_argument("--ivr-hold", type=float, default=12.0, help="seconds each load call stays in the IVR")
    parser.add_argument("--bridge-hold", type=float, default=20.0, help="seconds of audio after pressing 0")
    parser.add_argument("--probes", type=int, default=20, help="probe calls per IVR phase (one after another)")
    parser.add_argument("--bridge-probes", type=int, default=8, help="probe callers per bridged phase (at once)")
    parser.add_argument("--bridge-measure", type=float, default=5.0, help="seconds each bridged probe measures")
    parser.add_argument("--agents", type=int, default=0, help="echo agents (default: max calls + probes + 5)")
    parser.add_argument("--asr-streams", type=int, nargs="*", default=[1], help="bench/asr_rtf.py --streams")
    parser.add_argument("--no-gc-freeze", action="store_true", help="run the hub without gc.freeze() (to compare)")
    parser.add_argument("--profile", default=None, help="cProfile the hub during one phase, e.g. bridged-150")
    parser.add_argument("--chats", type=int, default=0, help="active web chats for the bridged phase run again")
    parser.add_argument("--chat-agents", type=int, default=0, help="agents taking the chats (default: ceil(chats/3))")
    parser.add_argument("--chat-rate", type=float, default=10.0, help="chat messages/s (agent and citizen) once open")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
