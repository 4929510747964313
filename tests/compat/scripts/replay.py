"""A replayable run: control.begin / checkpoint / end, then the same script again."""

import json
import sys

import tinytroupe.control as control
from tinytroupe.environment import TinyWorld
from tinytroupe.examples import create_lisa_the_data_scientist, create_oscar_the_architect

control.begin(sys.argv[1])
world = TinyWorld("Replayed", [create_lisa_the_data_scientist(), create_oscar_the_architect()])
world.make_everyone_accessible()
world.broadcast("What should the town build next?")
world.run(2)
control.checkpoint()
world.run(1)
control.end()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump({"transcript": list(world.transcript), "hits": control.cache_hits(),
               "misses": control.cache_misses()}, out)
