"""xfmr's random stream in numpy, so that PyTorch can draw exactly the numbers xfmr draws.

xfmr::Generator is std::mt19937_64; uniform() = (draw >> 40) * 2^-24 (24 bits, exact in float32);
dropout keeps an element when uniform() >= p, one draw per element in row-major order. Used by
bench/lm/replay_check.py (whole tutorial run) and tests/nn/extra_fixtures/lm_dropout.py (golden).
"""
import numpy as np
import torch


class Mt19937_64:
    """std::mt19937_64 (seed(s) and operator()), with the twist vectorised in numpy."""
    N, M = 312, 156
    A = np.uint64(0xB5026F5AA96619E9)
    UPPER = np.uint64(0xFFFFFFFF80000000)
    LOWER = np.uint64(0x7FFFFFFF)

    def __init__(self, seed):
        mt = [seed & (2**64 - 1)]
        for i in range(1, self.N):
            mt.append((6364136223846793005 * (mt[-1] ^ (mt[-1] >> 62)) + i) & (2**64 - 1))
        self.mt = np.array(mt, dtype=np.uint64)
        self.left = np.empty(0, dtype=np.uint64)

    def _twist(self):
        mt, n, m, one = self.mt, self.N, self.M, np.uint64(1)

        def mix(upper, lower, far):
            x = (upper & self.UPPER) | (lower & self.LOWER)
            return far ^ (x >> one) ^ np.where((x & one) != 0, self.A, np.uint64(0))

        # Three slices, each reading only values that the scalar loop would see at that point.
        mt[:n - m] = mix(mt[:n - m], mt[1:n - m + 1], mt[m:])
        mt[n - m:n - 1] = mix(mt[n - m:n - 1], mt[n - m + 1:], mt[:m - 1])
        mt[n - 1:] = mix(mt[n - 1:], mt[:1], mt[m - 1:m])
        return self._temper(mt)

    @staticmethod
    def _temper(x):
        y = x.copy()
        y ^= (y >> np.uint64(29)) & np.uint64(0x5555555555555555)
        y ^= (y << np.uint64(17)) & np.uint64(0x71D67FFFEDA60000)
        y ^= (y << np.uint64(37)) & np.uint64(0xFFF7EEE000000000)
        y ^= y >> np.uint64(43)
        return y

    @classmethod
    def from_state(cls, words, index):
        """The engine libstdc++ writes with operator<<: the 312 state words, then the position in them."""
        assert len(words) == cls.N and 0 <= index <= cls.N, (len(words), index)
        g = cls(0)
        g.mt = np.array(words, dtype=np.uint64)
        g.left = cls._temper(g.mt[index:])
        return g

    def next_u64(self, count):
        parts, have = [self.left], len(self.left)
        while have < count:
            parts.append(self._twist())
            have += self.N
        draws = np.concatenate(parts)
        self.left = draws[count:]
        return draws[:count]

    def uniform(self, count):  # xfmr::Generator::uniform(): 24 random bits, exact in float32
        return (self.next_u64(count) >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def from_generator_state(text):
    """xfmr::Generator::state() (written into training_state.safetensors as `lm.generator` by
    `xfmr train-lm --save`): seed, has_spare, spare, then the std::mt19937_64 engine. Only uniform()
    draws matter here, so a cached Box-Muller spare is ignored."""
    fields = text.split()
    if len(fields) != 3 + Mt19937_64.N + 1:
        raise ValueError(f"generator state: expected {3 + Mt19937_64.N + 1} fields, got {len(fields)}")
    return Mt19937_64.from_state([int(w) for w in fields[3:-1]], int(fields[-1]))


def self_check():
    # The 10000th output of a default-seeded std::mt19937_64 (C++ standard, [rand.predef]).
    assert Mt19937_64(5489).next_u64(10000)[-1] == np.uint64(9981545732273789042)
    # Restoring mid-stream continues it: 500 draws, then the state, then the rest.
    g, ref = Mt19937_64(7), Mt19937_64(7).next_u64(1000)
    g.next_u64(500)
    state = [int(w) for w in g.mt], Mt19937_64.N - len(g.left)
    assert (Mt19937_64.from_state(*state).next_u64(500) == ref[500:]).all()


class StreamDropout:
    """Stands in for torch.nn.functional.dropout: the masks come from `stream` (an Mt19937_64)."""

    def __init__(self, stream):
        self.stream = stream
        self.calls = 0

    def __call__(self, input, p=0.5, training=True, inplace=False):
        if not training or p == 0.0:
            return input
        keep = self.stream.uniform(input.numel()) >= np.float32(p)
        self.calls += 1
        scale = float(np.float32(1.0) / (np.float32(1.0) - np.float32(p)))  # xfmr: 1.0f / (1.0f - p)
        mask = torch.from_numpy(keep).reshape(input.shape).to(input.dtype)
        return input * (mask * scale)


def uniform(shape, low, high, stream):
    """xfmr::uniform_: low + (high - low) * u in float32, row-major."""
    low, high = np.float32(low), np.float32(high)
    u = stream.uniform(int(np.prod(shape)))
    return torch.from_numpy((low + (high - low) * u).astype(np.float32).reshape(shape))


def kaiming_uniform(shape, stream):  # nn.Linear's weight: kaiming_uniform_(a=sqrt(5)), float32 math as xfmr
    a = np.sqrt(np.float32(5.0))
    bound = np.sqrt(np.float32(2.0) / (np.float32(1.0) + a * a)) * np.sqrt(np.float32(3.0) / np.float32(shape[1]))
    return uniform(shape, -bound, bound, stream)


def xavier_uniform(shape, stream):
    a = np.sqrt(np.float32(6.0) / np.float32(shape[0] + shape[1]))
    return uniform(shape, -a, a, stream)


def init_tutorial_model(model, stream):
    """Gives a torch_lm.TransformerModel the initial weights `xfmr train-lm` draws from the same seed
    (models::TransformerLM's constructor): one encoder layer initialised as torch does - out_proj (weight,
    then a bias that MultiheadAttention then zeroes), in_proj_weight, linear1, linear2 - copied to every
    layer; then the tutorial's init_weights(): encoder.weight, decoder.weight."""
    layer = model.transformer_encoder.layers[0]
    d, h = layer.linear1.in_features, layer.linear1.out_features
    w = {"self_attn.out_proj.weight": kaiming_uniform((d, d), stream)}
    uniform((d,), -1.0 / np.sqrt(np.float32(d)), 1.0 / np.sqrt(np.float32(d)), stream)  # drawn, then zeroed
    w["self_attn.out_proj.bias"] = torch.zeros(d)
    w["self_attn.in_proj_weight"] = xavier_uniform((3 * d, d), stream)
    w["self_attn.in_proj_bias"] = torch.zeros(3 * d)
    for name, (o, i) in (("linear1", (h, d)), ("linear2", (d, h))):
        w[name + ".weight"] = kaiming_uniform((o, i), stream)
        b = 1.0 / np.sqrt(np.float32(i))
        w[name + ".bias"] = uniform((o,), -b, b, stream)
    with torch.no_grad():
        for lyr in model.transformer_encoder.layers:
            for name, t in lyr.named_parameters():
                if name in w:
                    t.copy_(w[name])
                else:  # LayerNorm
                    t.fill_(1.0 if name.endswith("weight") else 0.0)
        model.encoder.weight.copy_(uniform(tuple(model.encoder.weight.shape), -0.1, 0.1, stream))
        model.decoder.bias.zero_()
        model.decoder.weight.copy_(uniform(tuple(model.decoder.weight.shape), -0.1, 0.1, stream))
