// The one place tests include Catch2 from (Debian ships 2.13; a move to v3 changes this line).
#include <catch2/catch.hpp>
