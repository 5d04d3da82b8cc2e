// The built-in model families (one source file each). The registry calls these once, on first
// use; a static library would drop self-registering objects nobody references.
#pragma once

#include "xfmr/models/auto.h"

namespace xfmr::models::detail {

FamilySpec bert_family();        // bert.cpp
FamilySpec roberta_family();     // roberta.cpp (roberta, xlm-roberta, camembert)
FamilySpec distilbert_family();  // distilbert.cpp
FamilySpec gpt2_family();        // gpt2.cpp (gpt2, distilgpt2 checkpoints)
FamilySpec albert_family();      // albert.cpp
FamilySpec electra_family();     // electra.cpp

// Weight-name rules shared by the BERT-like families.
std::vector<std::string> legacy_buffer_patterns();

}  // namespace xfmr::models::detail
