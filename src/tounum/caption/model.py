"""The captioning network: dense CNN encoder, Bahdanau attention, GRU decoder (Keras 3, any backend).

Show, Attend and Tell (Xu et al. 2015) in the shape of the TensorFlow "image captioning with visual
attention" tutorial, with three of the paper's refinements: the initial GRU state comes from the mean
image feature, a gate scales the attention context, and the doubly stochastic attention regulariser
(in :func:`caption_loss`) pushes every image position to be looked at over the caption.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import keras
from keras import layers, ops


@dataclass
class ModelConfig:
    vocab_size: int
    feature_dim: int = 1280  # backbone grid channels
    positions: int = 49  # 7x7 grid
    embed_dim: int = 256
    units: int = 512
    attention_units: int = 256
    dropout: float = 0.3
    init_from_features: bool = True  # False: zero initial state, as in the TF tutorial

    def to_dict(self) -> dict:
        return asdict(self)


class CaptionModel(keras.Model):
    """``(features (N,49,C), tokens (N,T)) -> (logits (N,T,V), attention (N,T,49))`` under teacher forcing."""

    def __init__(self, config: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        c = self.config = config
        self.cnn_encoder = layers.Dense(c.embed_dim, activation="relu", name="cnn_encoder")
        self.feature_dropout = layers.Dropout(c.dropout, name="feature_dropout")
        self.init_state = layers.Dense(c.units, activation="tanh", name="init_state")
        self.word_embedding = layers.Embedding(c.vocab_size, c.embed_dim, name="word_embedding")
        self.attention_features = layers.Dense(c.attention_units, name="attention_features")  # W1
        self.attention_hidden = layers.Dense(c.attention_units, name="attention_hidden")  # W2
        self.attention_score = layers.Dense(1, name="attention_score")  # V
        self.context_gate = layers.Dense(c.embed_dim, activation="sigmoid", name="context_gate")
        self.gru = layers.GRUCell(c.units, name="gru")
        self.deep_output = layers.Dense(c.embed_dim, activation="tanh", name="deep_output")
        self.output_dropout = layers.Dropout(c.dropout, name="output_dropout")
        self.word_logits = layers.Dense(c.vocab_size, name="word_logits")

    def encode(self, features, training=False):
        """Grid features -> encoded positions, attention keys, initial state."""
        encoded = self.feature_dropout(self.cnn_encoder(features), training=training)
        keys = self.attention_features(encoded)
        if self.config.init_from_features:
            state = self.init_state(ops.mean(encoded, axis=1))
        else:
            state = ops.zeros((ops.shape(features)[0], self.config.units), dtype=encoded.dtype)
        return encoded, keys, state

    def attend(self, encoded, keys, state):
        """Bahdanau (additive) attention of the previous state over the positions."""
        scores = self.attention_score(ops.tanh(keys + ops.expand_dims(self.attention_hidden(state), 1)))
        alpha = ops.softmax(ops.squeeze(scores, -1), axis=-1)  # (N, 49)
        context = ops.sum(encoded * ops.expand_dims(alpha, -1), axis=1)
        return self.context_gate(state) * context, alpha

    def step(self, token, state, encoded, keys, training=False):
        """One decoder step: previous word ids (N,) -> (logits (N,V), new state, alpha (N,49))."""
        context, alpha = self.attend(encoded, keys, state)
        embedded = self.word_embedding(token)
        state, _ = self.gru(ops.concatenate([embedded, context], -1), [state], training=training)
        return self.project(state, context, embedded, training), state, alpha

    def project(self, state, context, embedded, training=False):
        """Deep output layer: word logits from state, context and previous word."""
        hidden = self.deep_output(ops.concatenate([state, context, embedded], -1))
        return self.word_logits(self.output_dropout(hidden, training=training))

    def call(self, inputs, training=False):
        features, tokens = inputs
        encoded, keys, state = self.encode(features, training)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):  # static length: unrolled, fast under a compiled step
            step_logits, state, alpha = self.step(tokens[:, t], state, encoded, keys, training)
            logits.append(step_logits)
            alphas.append(alpha)
        return ops.stack(logits, 1), ops.stack(alphas, 1)


class Ensemble:
    """Trained :class:`CaptionModel` members (same vocabulary and shape) decoded as one model.

    Each member keeps its own encoder, attention and GRU state; the word distribution of a step is
    the mean of the members' probabilities (returned as its log, which decoders treat as logits),
    and the attention is the members' mean. The state is the members' states side by side,
    ``(N, members * units)``, so that beam search reorders all of them with one ``take``.
    """

    def __init__(self, members: list[CaptionModel]):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        self.config = self.members[0].config

    def count_params(self) -> int:
        return sum(m.count_params() for m in self.members)

    def encode(self, features):
        """Grid features -> per-member encoded positions and keys (tuples), stacked initial states."""
        encoded, keys, states = zip(*(m.encode(features) for m in self.members))
        return encoded, keys, ops.concatenate(states, -1)

    def step(self, token, state, encoded, keys):
        """One step of every member: ``(log mean probability (N,V), new state, mean alpha (N,49))``."""
        states = ops.split(state, len(self.members), axis=-1)
        log_probs, new_states, alphas = [], [], []
        for member, member_state, member_encoded, member_keys in zip(self.members, states, encoded, keys):
            logits, member_state, alpha = member.step(token, member_state, member_encoded, member_keys)
            log_probs.append(ops.log_softmax(logits, axis=-1))
            new_states.append(member_state)
            alphas.append(alpha)
        mean_log_prob = ops.logsumexp(ops.stack(log_probs), axis=0) - math.log(len(self.members))
        return mean_log_prob, ops.concatenate(new_states, -1), ops.mean(ops.stack(alphas), axis=0)


def caption_loss(targets, logits, alphas, *, label_smoothing=0.0, attention_reg=1.0, weights=None,
                 excluded=()):
    """Masked cross-entropy (padding id 0 ignored), optional label smoothing, plus
    ``attention_reg * mean_positions (1 - sum_t alpha_t)^2`` (doubly stochastic attention).

    ``weights`` (N,) scale each caption's tokens: with sampled captions as targets and their
    advantages as weights, the cross-entropy is the self-critical policy-gradient loss
    ``-sum (r - b) log p(caption) / tokens``. ``excluded`` word ids are ruled out of the softmax,
    as the decoders rule them out: without that, pushing down the probability of bad samples lets
    the mass leak into words that are never sampled (<unk>...) and the model collapses.

    Returns ``(total, cross_entropy)``; both scalars.
    """
    mask = ops.cast(ops.not_equal(targets, 0), logits.dtype)
    if excluded:
        logits = logits - 1e9 * ops.sum(ops.one_hot(list(excluded), ops.shape(logits)[-1], dtype=logits.dtype), 0)
    log_probs = ops.log_softmax(logits, axis=-1)
    nll = -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1), -1)
    smooth = -ops.mean(log_probs, axis=-1)
    per_token = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    if weights is not None:
        per_token = per_token * ops.expand_dims(ops.cast(weights, logits.dtype), -1)
    cross_entropy = ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)
    coverage = ops.sum(alphas * ops.expand_dims(mask, -1), axis=1)  # (N, 49)
    regulariser = ops.mean(ops.square(1.0 - coverage))
    return cross_entropy + attention_reg * regulariser, cross_entropy


def build_model(config: ModelConfig) -> CaptionModel:
    """A model with its weights created (so that they can be loaded)."""
    model = CaptionModel(config, name="captioner")
    model((ops.zeros((1, config.positions, config.feature_dim)), ops.zeros((1, 2), dtype="int32")))
    return model
