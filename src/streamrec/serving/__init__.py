"""The serving contract: Redis key schema and payloads, the Redis store and the read client."""
