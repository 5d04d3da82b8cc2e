// All CPU kernels (f32 compute). See each header for semantics.
#pragma once

#include "xfmr/kernels/attention.h"
#include "xfmr/kernels/elementwise.h"
#include "xfmr/kernels/embedding.h"
#include "xfmr/kernels/gemm.h"
#include "xfmr/kernels/norm.h"
#include "xfmr/kernels/reduce.h"
#include "xfmr/kernels/softmax.h"
