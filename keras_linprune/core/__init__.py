"""Pure NumPy core: activation pieces, the graph description, the algebra.

Nothing here imports Keras or TensorFlow: `pieces` and `spec` describe what
the engine can change, `algebra` computes the folded weights.
"""
