"""Development tooling kept out of the installed package: local Kafka and Redis."""
