"""The math, once: neuron equations, surrogate spike functions and the WKV operator."""
from snnlab.functional.neuron import (
    PARAMS, STEPS, ALIFParams, ALIFState, CubaLIFParams, CubaState, IFParams, LIFParams, LIParams,
    VState, alif_step, cuba_lif_step, fire_and_reset, if_step, initial_state, li_step, lif_charge,
    lif_step, params_dict, run_sequence,
)
from snnlab.functional.surrogate import (
    SURROGATES, ATan, FastSigmoid, PiecewiseLinear, Rectangular, Sigmoid, SuperSpike, Surrogate,
    Triangle, get_surrogate,
)
from snnlab.functional.wkv import WKVState, initial_wkv_state, wkv, wkv_step
