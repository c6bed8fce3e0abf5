# A tiny RPC interface for the KJ-in-Asio transport tests only.
@0xd4b85c26e96bb08b;

interface EchoTest {
  echo @0 (value :UInt64) -> (value :UInt64);
  # Returns its argument.

  hang @1 () -> ();
  # Never returns; the server counts the calls it holds.
}
