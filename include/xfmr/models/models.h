// The models layer: HuggingFace architectures loaded from config.json + safetensors as they are.
// See docs/models.md.
#pragma once

#include "xfmr/models/auto.h"
#include "xfmr/models/config.h"
#include "xfmr/models/model.h"
