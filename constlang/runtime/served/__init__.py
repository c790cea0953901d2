"""Runtime, served models: a model behind an OpenAI-compatible endpoint (vLLM, TGI, `transformers
serve`, llama.cpp's server, a hosted API) as an engine that generates and scores options.

spec.py     what a plan's served model declares, and its key from the environment
client.py   concurrent requests with retries and backoff, counted
journal.py  every answer written as it arrives, so an interrupted stage asks nothing twice
options.py  option scores from the answer token's log-probabilities (or a parsed answer)
engine.py   ServedEngine: the Engine protocol (generate_full, score_options) over HTTP
"""
