"""Interviewing a generated customer, in the style of TinyTroupe's "Interview with Customer"."""

from tinytroupe.factory import TinyPersonFactory

factory = TinyPersonFactory(context="A large bank with many legacy systems.")
customer = factory.generate_person(
    "The vice-president of product innovation. Pragmatic, impatient with bureaucracy.")
print(customer.minibio())
answers = []
for question in ("What would you say are your main problems today?",
                 "Please give more detail about that, so I can understand it well."):
    answers.append(customer.listen_and_act(question, return_actions=True,
                                           max_content_length=3000))
RESULT = {"name": customer.name,
          "talks": [item["action"]["content"] for answer in answers for item in answer
                    if item["action"]["type"] == "TALK"]}
