"""Sans-IO SIP core: messages (:mod:`.message`), transactions (:mod:`.transaction`) and the UAS (:mod:`.uas`)."""
