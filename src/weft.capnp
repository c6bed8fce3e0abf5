# Every message between weft nodes, and between nodes and the head (DESIGN §7).
#
# Each connection's bootstrap capability is a Gate: a peer proves it belongs
# to the cluster (protocol version, cluster token, build fingerprint) and only
# then receives the Peer and Head capabilities it may use. A Gate that refuses
# throws with a message naming what differs; the connection is then dropped.
@0xa9c42bef1d4175a5;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("weft::wire");

const protocolVersion :UInt32 = 5;

struct ObjectId {
  owner @0 :UInt64;      # node that created the ref and counts its references
  sequence @1 :UInt64;
}

struct Address {
  host @0 :Text;
  port @1 :UInt16;
}

struct Resource {
  name @0 :Text;
  milli @1 :Int64;       # thousandths, so fractional requests add up exactly
}

struct NodeAffinity {
  node @0 :UInt64;
  soft @1 :Bool;
}

struct TaskOptions {
  resources @0 :List(Resource);
  maxRetries @1 :Int32;
  retryExceptions @2 :Bool;
  strategy :union {
    hybrid @3 :Void;
    spread @4 :Void;
    nodeAffinity @5 :NodeAffinity;
  }
  name @6 :Text;
  placementGroup @7 :UInt64;   # 0: none
  bundleIndex @8 :Int32;       # which bundle of the group (never negative)
}

# An ObjectRef argument. Small sealed values travel inline so the executing
# node needs no second round trip; otherwise `locations` says where to pull.
struct RefArg {
  id @0 :ObjectId;
  inline @1 :Data;             # the payload, when small and already sealed
  locations @2 :List(UInt64);  # nodes holding a copy
  nestedRefs @3 :List(RefArg); # refs inside an inline payload (a pull brings its own)
}

struct TaskSpec {
  functionId @0 :UInt64;
  name @1 :Text;
  args @2 :Data;               # values encoded with weft's codecs
  refs @3 :List(RefArg);       # ObjectRef arguments, in parameter order
  refMask @4 :UInt64;          # bit i: argument i is a ref
  waitMask @5 :UInt64;         # bit j: refs[j] must be sealed before running
  nestedRefs @6 :List(RefArg); # refs inside argument values
  result @7 :ObjectId;
  options @8 :TaskOptions;
  attempt @9 :UInt32;
  actor @10 :UInt64;           # 0 for a task; the actor's id for a call
  returns @11 :List(ObjectId); # a task of several results: each one's id, in order; its
                               # result's value is empty and names them (nestedRefs)
  caller @12 :UInt64;          # an actor call: the handle that sent it, for per-caller order
}

enum ErrorKind {
  task @0;          # an exception thrown by user code
  actorDied @1;
  infeasible @2;
  ownerDied @3;
  objectLost @4;
  typeMismatch @5;
  storeFull @6;
  nodeDied @7;
  returnCount @8;
}

struct Failure {
  kind @0 :ErrorKind;
  typeName @1 :Text;
  message @2 :Text;
  taskName @3 :Text;
}

struct TaskResult {
  id @0 :ObjectId;
  union {
    value @1 :Data;            # the sealed payload, when small
    storedAt @2 :UInt64;       # the node holding the payload, when large
    failure @3 :Failure;
  }
  size @4 :UInt64;
  nestedRefs @5 :List(RefArg);  # refs inside the value
  holder @6 :UInt64;       # node keeping the payload and the objects it names
                           # until the owner frees them (freeObjects); 0: none
}

struct ActorSpec {
  actorId @0 :UInt64;
  className @1 :Text;
  constructorId @2 :UInt64;    # registry id of the constructor taking `args`
  args @3 :Data;
  name @4 :Text;
  resources @5 :List(Resource);
  maxConcurrency @6 :Int32;
  dedicatedThread @7 :Bool;
  maxRestarts @8 :Int32;
  owner @9 :UInt64;
  placementGroup @10 :UInt64;  # 0: none
  bundleIndex @11 :UInt32;     # which bundle of the group
  nestedRefs @12 :List(RefArg);  # refs inside `args`
}

struct ActorEntry {
  actorId @0 :UInt64;
  name @1 :Text;
  className @2 :Text;
  node @3 :UInt64;
  state @4 :ActorState;
  restarts @5 :Int32;
}

enum ActorState {
  alive @0;
  restarting @1;
  dead @2;
}

struct NodeInfo {
  nodeId @0 :UInt64;
  address @1 :Address;
  resources @2 :List(Resource);   # totals
  storeCapacity @3 :UInt64;
  pid @4 :Int32;
}

struct NodeLoad {
  available @0 :List(Resource);
  storeUsed @1 :UInt64;
  liveObjects @2 :UInt64;
  tasksInFlight @3 :UInt64;
  liveActors @4 :UInt64;
}

struct NodeView {
  info @0 :NodeInfo;
  load @1 :NodeLoad;
  alive @2 :Bool;
  left @3 :Bool;        # not alive because it left (a finished driver), not because it failed
}

# Also how each node learns the bundles it holds: it keeps exactly those the
# latest view places on it.
struct ClusterView {
  version @0 :UInt64;
  nodes @1 :List(NodeView);
  placementGroups @2 :List(PlacementGroup);
  lastGroupId @3 :UInt64;      # every group up to this id exists or existed
}

struct Bundle {
  resources @0 :List(Resource);
}

enum PlacementStrategy {
  pack @0;
  spread @1;
  strictPack @2;
  strictSpread @3;
}

struct PlacementGroup {
  groupId @0 :UInt64;
  strategy @1 :PlacementStrategy;
  bundles @2 :List(Bundle);
  nodes @3 :List(UInt64);      # bundle i is on nodes[i]
}

struct ClusterStatus {
  view @0 :ClusterView;
  actors @1 :List(ActorEntry);
  jobs @2 :List(Job);
  placementGroups @3 :UInt32;
}

struct Job {
  jobId @0 :UInt64;
  driverNode @1 :UInt64;
  startedMs @2 :Int64;
  finished @3 :Bool;
}

enum Role {
  node @0;        # a full node: runs tasks and actors
  tool @1;        # the weft command: may only query and stop
}

struct Hello {
  protocolVersion @0 :UInt32;
  tokenProof @1 :Data;         # HMAC-SHA256(cluster token, Gate.challenge's nonce): the token never travels
  buildFingerprint @2 :UInt64;
  registry @3 :List(Text);     # "name<TAB>signature" entries, sorted; compared on mismatch
  role @4 :Role;
  info @5 :NodeInfo;
}

# A connection's first calls: challenge, then hello proving the token over
# that challenge's nonce. A hello without a challenge first is refused.
interface Gate {
  # streamPort: where this node takes task streams (StreamFrame).
  hello @0 (hello :Hello) -> (peer :Peer, head :Head, nodeId :UInt64, streamPort :UInt16);
  challenge @1 () -> (nonce :Data);
}

# One node as seen by another.
interface Peer {
  # nestedRefs: the refs inside the object's value, with the chunk at offset 0.
  pullObject @0 (id :ObjectId, offset :UInt64, length :UInt64)
      -> (totalSize :UInt64, data :Data, nestedRefs :List(RefArg));
  freeObjects @1 (ids :List(ObjectId)) -> ();
  createActor @2 (spec :ActorSpec) -> ();
  killActor @3 (actorId :UInt64) -> ();
  updateView @4 (view :ClusterView) -> ();
  stop @5 () -> ();
}

# Task specs and results need no reply, so they skip RPC (whose every call
# costs a Return and a Finish as well): a node that passed the Gate opens a
# second connection to the peer's streamPort and sends these one way, each
# in capnp's standard stream framing. The first frame must be a hello that
# proves the cluster token; anything else, or a frame that does not parse,
# drops the connection.
struct StreamHello {
  tokenProof @0 :Data;         # HMAC-SHA256(cluster token, "weft stream" + nodeId as 8 bytes LE)
  nodeId @1 :UInt64;
}

struct StreamFrame {
  union {
    hello @0 :StreamHello;
    tasks @1 :List(TaskSpec);       # to run on the receiving node
    results @2 :List(TaskResult);   # of tasks the receiving node owns
  }
}

# The head's control store (DESIGN §8).
interface Head {
  # The head refuses register, heartbeat and finishJob from a node it
  # declared dead with NodeFencedError (ControlStore::fenced): that node must
  # rejoin as a new node.
  register @0 (info :NodeInfo) -> (nodeId :UInt64, view :ClusterView);
  heartbeat @1 (nodeId :UInt64, load :NodeLoad) -> ();
  registerActor @2 (entry :ActorEntry) -> ();   # refused (name taken) as an Error
  lookupActor @3 (name :Text) -> (found :Bool, entry :ActorEntry);
  updateActor @4 (entry :ActorEntry) -> ();
  kvPut @5 (key :Text, value :Data) -> ();     # fails past weft::kv_max_*_bytes
  kvGet @6 (key :Text) -> (found :Bool, value :Data);
  kvDelete @7 (key :Text) -> (existed :Bool);
  createPlacementGroup @8 (strategy :PlacementStrategy, bundles :List(Bundle))
      -> (groupId :UInt64, nodes :List(UInt64));   # refused as InfeasibleError or UsageError
  removePlacementGroup @9 (groupId :UInt64) -> ();
  startJob @10 (driverNode :UInt64) -> (jobId :UInt64);
  finishJob @11 (jobId :UInt64, driverNode :UInt64) -> ();   # the job is finished even if refused
  status @12 () -> (status :ClusterStatus);
  stopCluster @13 () -> ();
  kvKeys @14 (prefix :Text) -> (keys :List(Text));   # sorted
  leave @15 (nodeId :UInt64) -> ();   # the node is ending normally: listed as left, not dead
}
