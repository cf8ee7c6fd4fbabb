"""The composition root: the ``rexian`` command wires hub/, the channels, nlu/, routing/ and knowledge_base/."""
