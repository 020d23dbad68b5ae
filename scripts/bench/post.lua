-- wrk script for the overhead bench: the same non-streamed chat completion that loadgen sends.
wrk.method = "POST"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8}'
wrk.headers["Content-Type"] = "application/json"
