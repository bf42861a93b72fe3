"""Model features: a contract's features section turned into numbers, the same code for training
(columns of a snapshot) and scoring (records of a feed or an API call): `transforms` (one
transaction), `windows` (the card's history, offline) and `online` (the same history from a
per-card state at scoring time)."""
