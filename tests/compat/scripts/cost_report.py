"""Cost statistics after a short focus group."""

from tinytroupe.agent import TinyPerson
from tinytroupe.clients import client
from tinytroupe.environment import TinyWorld
from tinytroupe.examples import create_lisa_the_data_scientist_2, create_oscar_the_architect_2

client().reset_cost_stats()
world = TinyWorld("Focus group", [create_lisa_the_data_scientist_2(),
                                  create_oscar_the_architect_2()])
world.make_everyone_accessible()
world.broadcast("Would you pay for a bike subscription?")
world.run(2)
client().pretty_print_cost_stats()
world.pretty_print_cost_stats()
TinyWorld.pretty_print_global_cost_stats()
TinyPerson.pretty_print_global_cost_stats()
RESULT = {"client": client().get_cost_stats(), "world": world.get_cost_stats()}
