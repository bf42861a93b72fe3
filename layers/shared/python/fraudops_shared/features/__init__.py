"""Model features: a contract's features section turned into numbers, the same code for training
(columns of a snapshot) and scoring (records of a feed or an API call)."""
