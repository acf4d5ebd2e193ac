"""Kafka adapters: clients, topics, dead letters, offsets and the producer."""
