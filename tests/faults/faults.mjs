// The faults tests/faults/chaos.mjs injects, and its seeded generator.
//
// Each fault names the resources it holds while it runs (no two running
// faults act on the same process or proxy) and runs to its end, restoring
// what it broke. They overlap with each other by design: chaos.mjs starts
// the next one while others still run. `step` records what a fault did and
// when, for the report of a failing run.

/** A small seeded generator (mulberry32): the same seed, the same run. */
export function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const between = (rng, lo, hi) => Math.floor(lo + rng() * (hi - lo));
const INSTANCES = [0, 1];

// Redis down (SIGTERM: its append-only file is complete), then back on the
// same port with the same data: the padding makes it answer -LOADING first.
async function redisDown(sys, step) {
  await sys.redis.stop();
  step('redis stopped');
}
async function redisUp(sys, step) {
  await sys.redis.start();
  step('redis answers PING (loading done)');
}

export const FAULTS = {
  // An instance killed and restarted while Redis is down: it starts during
  // the outage and must deliver what is stored after its start once Redis
  // answers.
  kill_during_outage: {
    name: 'kill_during_outage',
    targets: INSTANCES,
    resources: (i) => ['redis', `p${i}`, 'kill'],
    async run(sys, i, rng, step) {
      await redisDown(sys, step);
      await sleep(between(rng, 300, 1500));
      await sys.instances[i].stop('SIGKILL');
      step(`pushd ${i} killed`);
      await sleep(between(rng, 200, 800));
      await sys.instances[i].start({ healthy: false });
      step(`pushd ${i} started during the outage`);
      await sleep(between(rng, 500, 2500));
      await redisUp(sys, step);
    },
  },
  // Every client of an instance reconnects (re-joins with since, auth with
  // since) and Redis restarts while those replays are in flight.
  restart_during_replays: {
    name: 'restart_during_replays',
    targets: INSTANCES,
    resources: (i) => ['redis', `cp${i}`],
    async run(sys, i, rng, step) {
      sys.clientLinks[i].cut();
      step(`clients of pushd ${i} cut`);
      await sleep(between(rng, 20, 300));
      await redisDown(sys, step);
      await sleep(between(rng, 300, 2000));
      await redisUp(sys, step);
    },
  },
  // Redis restarted and loading (-LOADING) while clients reconnect.
  loading: {
    name: 'loading',
    targets: INSTANCES,
    resources: (i) => ['redis', `cp${i}`],
    async run(sys, i, rng, step) {
      await redisDown(sys, step);
      const up = redisUp(sys, step);
      await sleep(between(rng, 50, 400));
      sys.clientLinks[i].cut();
      step(`clients of pushd ${i} cut while redis loads`);
      await up;
    },
  },
  // Acks lost: what pushd sends to its clients is black-holed (requests
  // still arrive and are stored); the clients find the link dead and retry
  // on the other instance with the same message_id.
  lost_acks: {
    name: 'lost_acks',
    targets: INSTANCES,
    resources: (i) => [`cp${i}`],
    async run(sys, i, rng, step) {
      sys.clientLinks[i].blackholeDown();
      step(`pushd ${i} -> clients black-holed`);
      await sleep(between(rng, 2500, 5000));
      sys.clientLinks[i].restore();
      sys.clientLinks[i].cut();
      step('restored (stale connections cut)');
    },
  },
  // Clients' links black-holed both ways, then cut.
  client_blackhole: {
    name: 'client_blackhole',
    targets: INSTANCES,
    resources: (i) => [`cp${i}`],
    async run(sys, i, rng, step) {
      sys.clientLinks[i].blackholeDown();
      sys.clientLinks[i].blackholeUp();
      step(`clients of pushd ${i} black-holed both ways`);
      await sleep(between(rng, 1500, 4000));
      sys.clientLinks[i].restore();
      sys.clientLinks[i].cut();
      step('restored (stale connections cut)');
    },
  },
  // One instance loses Redis (cut, refused) while the other keeps it.
  redis_link_cut: {
    name: 'redis_link_cut',
    targets: INSTANCES,
    resources: (i) => [`rp${i}`],
    async run(sys, i, rng, step) {
      sys.redisLinks[i].refuse(true);
      sys.redisLinks[i].cut();
      step(`pushd ${i} -> redis cut and refused`);
      await sleep(between(rng, 500, 3000));
      sys.redisLinks[i].refuse(false);
      step('allowed again');
    },
  },
  // One instance's Redis hangs (black-holed both ways): its commands and
  // bus reads time out.
  redis_link_hang: {
    name: 'redis_link_hang',
    targets: INSTANCES,
    resources: (i) => [`rp${i}`],
    async run(sys, i, rng, step) {
      sys.redisLinks[i].blackholeDown();
      sys.redisLinks[i].blackholeUp();
      step(`pushd ${i} -> redis hung`);
      await sleep(between(rng, 1500, 4000));
      sys.redisLinks[i].restore();
      sys.redisLinks[i].cut();
      step('restored (stale connections cut)');
    },
  },
  // An instance killed (-9) and restarted with Redis up.
  kill: {
    name: 'kill',
    targets: INSTANCES,
    resources: (i) => [`p${i}`, 'kill'],
    async run(sys, i, rng, step) {
      await sys.instances[i].stop('SIGKILL');
      step(`pushd ${i} killed`);
      await sleep(between(rng, 300, 2000));
      await sys.instances[i].start({ healthy: false });
      step(`pushd ${i} restarted`);
    },
  },
  // An instance stopped (SIGTERM: closes with 1001) and restarted.
  term: {
    name: 'term',
    targets: INSTANCES,
    resources: (i) => [`p${i}`, 'kill'],
    async run(sys, i, rng, step) {
      await sys.instances[i].stop('SIGTERM');
      step(`pushd ${i} stopped`);
      await sleep(between(rng, 300, 1500));
      await sys.instances[i].start({ healthy: false });
      step(`pushd ${i} restarted`);
    },
  },
};

/** The overlapping kinds every run injects at least once (issue 12). */
export const REQUIRED_FAULTS = ['kill_during_outage', 'restart_during_replays', 'loading', 'lost_acks'];
