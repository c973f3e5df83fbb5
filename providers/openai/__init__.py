"""OpenAI (the AI judge): one structured-output chat completion per LONG/SHORT, through the official SDK."""
