"""The math, once: neuron equations and kinds, surrogate spike functions, delay kernels, the WKV operator."""
from snnlab.functional.neuron import (
    KINDS, PARAMS, STEPS, ALIFParams, ALIFState, CubaLIFParams, CubaState, IFParams, LIFParams, LIParams,
    NeuronKind, VState, alif_step, cuba_lif_step, fire_and_reset, if_step, initial_state, li_step, lif_charge,
    lif_step, params_dict, register_kind, run_sequence,
)
from snnlab.functional.surrogate import (
    SURROGATES, ATan, FastSigmoid, PiecewiseLinear, Rectangular, Sigmoid, SuperSpike, Surrogate,
    Triangle, get_surrogate,
)
from snnlab.functional.wkv import WKVState, initial_wkv_state, wkv, wkv_step
