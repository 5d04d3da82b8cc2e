// Factories for the pipeline components. Each JSON factory reads one tokenizer.json object; `where`
// names the file and the entry (e.g. "/m/tokenizer.json: normalizer.normalizers[1]") so every error
// tells the user what to look at. The typed factories serve the legacy (vocab.txt, ...) loaders.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizers/pipeline.h"
#include "tokenizers/vocab.h"

namespace xfmr::tokenizers {

using json = nlohmann::json;

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where);
struct ModelTables;
// `tables` holds model.vocab / model.merges when the SAX loader read them (see json_sax.h).
std::unique_ptr<Model> make_model(const json& j, const std::string& where, ModelTables* tables = nullptr);
std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where);

// Typed factories.
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents, bool lowercase);
std::unique_ptr<Normalizer> make_precompiled_normalizer(std::string charsmap, const std::string& where);
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> parts);
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizer> make_whitespace_split_pre_tokenizer();
std::unique_ptr<PreTokenizer> make_metaspace_pre_tokenizer(char32_t replacement, bool prepend_always, bool split);
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts);

using Vocab = FlatStrMap;
std::unique_ptr<Model> make_wordpiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars,
                                      const std::string& where);
std::unique_ptr<Model> make_bpe(Vocab vocab, std::vector<std::pair<std::string, std::string>> merges,
                                std::optional<std::string> unk, std::string prefix, std::string suffix,
                                bool fuse_unk, bool byte_fallback, bool ignore_merges, const std::string& where);
std::unique_ptr<Model> make_unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id,
                                    bool byte_fallback, const std::string& where);

std::unique_ptr<PostProcessor> make_template_processing(
    const std::vector<std::pair<std::string, int32_t>>& single, const std::vector<std::pair<std::string, int32_t>>& pair,
    const std::unordered_map<std::string, std::pair<std::vector<int32_t>, std::vector<std::string>>>& special);
std::unique_ptr<PostProcessor> make_roberta_processing(std::pair<std::string, int32_t> sep,
                                                       std::pair<std::string, int32_t> cls, bool trim_offsets,
                                                       bool add_prefix_space);
std::unique_ptr<PostProcessor> make_byte_level_processing(bool trim_offsets, bool add_prefix_space);

std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup);
std::unique_ptr<Decoder> make_byte_level_decoder();
std::unique_ptr<Decoder> make_metaspace_decoder(char32_t replacement, bool prepend);

// JSON helpers shared by the factories.
const json& need(const json& j, const char* key, const std::string& where);
std::string type_of(const json& j, const std::string& where);
class Regex;
// Reads a Replace/Split "pattern": {"String": "..."} (literal) or {"Regex": "..."}.
void read_pattern(const json& j, const std::string& where, std::string& literal, std::unique_ptr<Regex>& re);
bool get_bool(const json& j, const char* key, bool dflt, const std::string& where);
std::string base64_decode(const std::string& s, const std::string& where);

}  // namespace xfmr::tokenizers
