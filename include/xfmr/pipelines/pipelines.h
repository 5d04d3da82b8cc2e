// Umbrella header of the pipelines layer: xfmr::pipeline(task), the typed task pipelines and
// generation. See docs/pipelines.md.
#pragma once

#include "xfmr/pipelines/generation.h"  // IWYU pragma: export
#include "xfmr/pipelines/pipeline.h"    // IWYU pragma: export
#include "xfmr/pipelines/results.h"     // IWYU pragma: export
#include "xfmr/pipelines/tasks.h"       // IWYU pragma: export
