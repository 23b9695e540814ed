"""Export (merge, GGUF conversion, quantization, verification) and chat through llama.cpp."""
