// `xfmr pipeline TASK [--model ID_OR_DIR] [options] [TEXT...]`: HuggingFace pipelines from the
// command line, one JSON result per input (json.dumps style), inputs from the arguments or stdin.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "xfmr/core/error.h"
#include "xfmr/core/format.h"
#include "xfmr/pipelines/pipelines.h"

namespace xfmr::cli {
namespace {

using namespace xfmr::pipelines;
using ojson = nlohmann::ordered_json;

// A command-line option that becomes one HF keyword argument.
struct OptSpec {
  enum Kind { Int, Float, String, List, True, False, Null };
  std::string flag;  // "--top-k"
  std::string hf;    // "top_k"
  Kind kind;
  std::string help;
};

// Options shared by every task.
struct CommonArgs {
  std::string model, tokenizer, params;
  int batch_size = 1;
  int threads = 0;
  bool jsonl = false, no_ascii = false, keep_dtype = false, quiet = false;
  std::vector<std::string> texts;
};

struct TaskCommand {
  std::string task;
  CLI::App* app = nullptr;
  CommonArgs common;
  std::vector<OptSpec> specs;
  std::vector<std::string> values;      // one per spec (parsed at run time)
  std::vector<CLI::Option*> options;    // one per spec
  // Task-specific inputs.
  std::string question, context, pair;
  bool has_question = false, has_context = false, has_pair = false;  // given, possibly empty
  bool stream = false, no_stream = false;
};

std::vector<OptSpec> task_specs(const std::string& task) {
  using K = OptSpec::Kind;
  if (task == "text-classification")
    return {{"--top-k", "top_k", K::Int, "Return the N best labels as a list (HF top_k)"},
            {"--all-scores", "top_k", K::Null, "Return every label, best first (HF top_k=None)"},
            {"--function-to-apply", "function_to_apply", K::String, "softmax, sigmoid or none (default: from the config)"},
            {"--truncation", "truncation", K::True, "Cut inputs longer than the model accepts instead of failing"}};
  if (task == "zero-shot-classification")
    return {{"--candidate-labels", "candidate_labels", K::List,
             "Labels: one comma-separated string or the option repeated (required)"},
            {"--hypothesis-template", "hypothesis_template", K::String, "NLI hypothesis, {} = label (default \"This example is {}.\")"},
            {"--multi-label", "multi_label", K::True, "Score every label independently (entailment vs contradiction)"}};
  if (task == "question-answering")
    return {{"--top-k", "top_k", K::Int, "Number of answers (default 1; several are printed as a list)"},
            {"--max-answer-len", "max_answer_len", K::Int, "Longest answer in tokens (default 15)"},
            {"--max-seq-len", "max_seq_len", K::Int, "Window length in tokens (default min(model max, 384))"},
            {"--doc-stride", "doc_stride", K::Int, "Overlap of consecutive windows (default min(max_seq_len/2, 128))"},
            {"--max-question-len", "max_question_len", K::Int, "Accepted for HF compatibility (unused by fast tokenizers)"},
            {"--handle-impossible-answer", "handle_impossible_answer", K::True, "Also offer the empty answer"},
            {"--no-align-to-words", "align_to_words", K::False, "Use token offsets instead of whole words"}};
  if (task == "fill-mask")
    return {{"--top-k", "top_k", K::Int, "Predictions per mask (default 5)"},
            {"--targets", "targets", K::List, "Only score these words (comma-separated or repeated)"},
            {"--truncation", "truncation", K::True, "Cut inputs longer than the model accepts instead of failing"}};
  if (task == "token-classification")
    return {{"--aggregation-strategy", "aggregation_strategy", K::String, "none (default), simple, first, average or max"},
            {"--ignore-labels", "ignore_labels", K::List, "Labels to drop (default O; \"\" keeps everything)"},
            {"--stride", "stride", K::Int, "Label texts longer than the model in windows overlapping by N tokens"}};
  if (task == "text-generation")
    return {{"--max-new-tokens", "max_new_tokens", K::Int, "Tokens to generate"},
            {"--max-length", "max_length", K::Int, "Prompt + new tokens (used when --max-new-tokens is not given)"},
            {"--min-new-tokens", "min_new_tokens", K::Int, "Ban eos before this many new tokens"},
            {"--min-length", "min_length", K::Int, "Ban eos while prompt + new tokens are shorter"},
            {"--do-sample", "do_sample", K::True, "Sample (default: from generation_config / task_specific_params)"},
            {"--greedy", "do_sample", K::False, "Greedy search"},
            {"--temperature", "temperature", K::Float, "Sampling temperature"},
            {"--top-k", "top_k", K::Int, "Sample among the K best tokens (0: all)"},
            {"--top-p", "top_p", K::Float, "Nucleus sampling probability mass"},
            {"--repetition-penalty", "repetition_penalty", K::Float, "Penalty for tokens already present (1 = none)"},
            {"--no-repeat-ngram-size", "no_repeat_ngram_size", K::Int, "Never repeat an n-gram of this size"},
            {"--num-return-sequences", "num_return_sequences", K::Int, "Sequences per prompt (sampling)"},
            {"--seed", "seed", K::Int, "Random seed for sampling (default: random)"},
            {"--no-full-text", "return_full_text", K::False, "Return only the new text (HF return_full_text=False)"},
            {"--return-tensors", "return_tensors", K::True, "Return token ids (generated_token_ids)"},
            {"--prefix", "prefix", K::String, "Text prepended to every prompt"},
            {"--handle-long-generation", "handle_long_generation", K::String,
             "hole: drop the start of prompts that leave no room for the new tokens"}};
  if (task == "feature-extraction")
    return {{"--pooling", "pooling", K::String, "Print a sentence embedding: mean, cls or max (default: every token)"},
            {"--normalize", "normalize", K::True, "L2-normalise the pooled embedding"},
            {"--truncation", "truncation", K::True, "Cut inputs longer than the model accepts instead of failing"}};
  return {};
}

std::string example_for(const std::string& task) {
  if (task == "text-classification")
    return "  xfmr pipeline sentiment-analysis \"It is great to learn deep learning.\"\n"
           "  xfmr pipeline text-classification --model DIR --all-scores \"text\"\n"
           "  echo '{\"text\": \"A man plays.\", \"text_pair\": \"Someone makes music.\"}' | xfmr pipeline "
           "text-classification --model NLI_DIR";
  if (task == "question-answering")
    return "  xfmr pipeline question-answering --question \"Who wrote it?\" --context \"Ada wrote it in 1843.\"\n"
           "  echo '{\"question\": \"...\", \"context\": \"...\"}' | xfmr pipeline question-answering --top-k 3";
  if (task == "fill-mask") return "  xfmr pipeline fill-mask --model distilbert/distilroberta-base \"Paris is the <mask> of France.\"";
  if (task == "token-classification") return "  xfmr pipeline ner --aggregation-strategy simple \"My name is Sarah and I live in London.\"";
  if (task == "text-generation")
    return "  xfmr pipeline text-generation --greedy --max-new-tokens 20 \"Once upon a time\"";
  if (task == "feature-extraction")
    return "  xfmr pipeline feature-extraction --model sentence-transformers/all-MiniLM-L6-v2 --pooling mean --normalize \"text\"";
  if (task == "zero-shot-classification")
    return "  xfmr pipeline zero-shot-classification --model cross-encoder/nli-distilroberta-base \\\n"
           "      --candidate-labels \"travel, cooking, dancing\" \"One day I will see the world.\"";
  return "";
}

ojson spec_value(const OptSpec& s, const std::vector<std::string>& given) {
  const std::string& v = given.empty() ? std::string() : given.back();
  try {
    switch (s.kind) {
      case OptSpec::Int: {
        size_t pos = 0;
        long long x = std::stoll(v, &pos);
        XFMR_CHECK(pos == v.size(), "");
        return ojson(static_cast<int64_t>(x));
      }
      case OptSpec::Float: {
        size_t pos = 0;
        double x = std::stod(v, &pos);
        XFMR_CHECK(pos == v.size(), "");
        return ojson(x);
      }
      case OptSpec::String: return ojson(v);
      case OptSpec::List: {
        if (given.size() == 1 && s.hf == "candidate_labels") return ojson(v);  // HF splits a string on ','
        ojson list = ojson::array();
        for (const auto& g : given) {
          size_t start = 0;
          while (start <= g.size()) {
            size_t c = g.find(',', start);
            if (c == std::string::npos) c = g.size();
            std::string part = g.substr(start, c - start);
            size_t b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
            if (b != std::string::npos) list.push_back(part.substr(b, e - b + 1));
            start = c + 1;
          }
        }
        return list;
      }
      case OptSpec::True: return ojson(true);
      case OptSpec::False: return ojson(false);
      case OptSpec::Null: return ojson(nullptr);
    }
  } catch (const std::logic_error&) {
  }
  ::xfmr::detail::fail("pipeline: ", s.flag, " expects ", s.kind == OptSpec::Int ? "an integer" : "a number", ", got '", v, "'");
}

bool looks_like_json_object(const std::string& line) {
  size_t b = line.find_first_not_of(" \t");
  return b != std::string::npos && line[b] == '{';
}

int run_task(TaskCommand& t) {
  CommonArgs& c = t.common;
  apply_threads(c.threads);
  // Keyword arguments: --params first, then the options given on the command line.
  ojson kw = ojson::object();
  if (!c.params.empty()) {
    try {
      kw = ojson::parse(c.params);
    } catch (const ojson::parse_error& e) {
      ::xfmr::detail::fail("pipeline: --params is not valid JSON: ", e.what());
    }
    XFMR_CHECK(kw.is_object(), "pipeline: --params must be a JSON object, e.g. '{\"top_k\": null}'");
  }
  for (size_t i = 0; i < t.specs.size(); ++i) {
    if (t.options[i]->count() == 0) continue;
    std::vector<std::string> given = t.options[i]->as<std::vector<std::string>>();
    kw[t.specs[i].hf] = spec_value(t.specs[i], given);
  }
  Params params = Params::from_json(kw.dump());

  // Inputs.
  std::vector<Input> inputs;
  const bool qa = t.task == "question-answering";
  auto text_input = [&](const std::string& s) -> Input {
    if (qa) {
      XFMR_CHECK(t.has_question || t.has_context, "question-answering: give --question and --context, ",
                 "or one of them with texts (each text is then the other), or JSON lines {\"question\": ..., \"context\": ...}");
      return t.has_question ? Input::qa(t.question, s) : Input::qa(s, t.context);
    }
    if (t.has_pair) return Input::pair(s, t.pair);
    return Input(s);
  };
  bool from_stdin = false;
  if (qa && t.has_question && t.has_context) {
    XFMR_CHECK(c.texts.empty(), "question-answering: TEXT arguments cannot be combined with both --question and --context");
    inputs.push_back(Input::qa(t.question, t.context));
  } else if (!c.texts.empty()) {
    for (const auto& s : c.texts) inputs.push_back(text_input(s));
  } else {
    from_stdin = true;
  }

  PipelineOptions opts;
  opts.model = c.model;
  opts.tokenizer = c.tokenizer;
  opts.batch_size = c.batch_size;
  opts.keep_stored_dtype = c.keep_dtype;
  if (c.quiet) opts.on_warning = [](const std::string&) {};
  Pipeline pipe = pipeline(t.task, opts);

  const bool is_tty = isatty(STDOUT_FILENO) != 0;
  const bool stream = t.task == "text-generation" && !t.no_stream && (t.stream || is_tty);
  if (stream) {
    pipe.as<TextGenerationPipeline>()->set_stream([](const std::string& piece) { std::cout << piece << std::flush; });
  }
  auto emit = [&](const std::vector<Input>& batch) {
    if (batch.empty()) return;
    if (stream) {
      for (const auto& in : batch) {
        std::cout << in.text << std::flush;
        auto out = pipe.run_each({in}, params);
        std::cout << "\n" << out[0].to_json(!c.no_ascii) << "\n" << std::flush;
      }
      return;
    }
    for (const auto& o : pipe.run_each(batch, params)) std::cout << o.to_json(!c.no_ascii) << "\n";
    std::cout << std::flush;
  };
  if (!from_stdin) {
    emit(inputs);
    return 0;
  }
  // stdin: one input per line (plain text, or a JSON object / with --jsonl any JSON value),
  // processed in chunks so long inputs stream through.
  const size_t chunk = std::max<size_t>(256, static_cast<size_t>(c.batch_size) * 64);
  std::string line;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (c.jsonl || looks_like_json_object(line)) {
      if (c.jsonl && line.find_first_not_of(" \t") == std::string::npos) continue;  // blank JSONL lines
      try {
        Input in = Input::from_json(line);
        if (in.kind == Input::Kind::Text) in = text_input(in.text);
        inputs.push_back(std::move(in));
      } catch (const Error& e) {
        ::xfmr::detail::fail("pipeline: stdin line ", line_no, ": ", e.what());
      }
    } else {
      inputs.push_back(text_input(line));
    }
    if (inputs.size() >= chunk) {
      emit(inputs);
      inputs.clear();
    }
  }
  emit(inputs);
  return 0;
}

struct PipelineCli {
  std::string unknown_task;
  std::vector<std::string> rest;
  std::vector<std::unique_ptr<TaskCommand>> tasks;
  CLI::App* app = nullptr;
};

XFMR_REGISTER_COMMAND(
    "pipeline", "Run a HuggingFace pipeline task (sentiment-analysis, question-answering, ner, ...) on texts",
    [](CLI::App& sub) {
      static PipelineCli cli;
      cli.app = &sub;
      std::string tasks_help;
      for (const auto& info : supported_tasks()) {
        tasks_help += "  " + info.name;
        for (const auto& a : info.aliases) tasks_help += " (" + a + ")";
        tasks_help += "\n      default model: " + info.default_model + "\n";
      }
      sub.footer(
          "Usage: xfmr pipeline TASK [--model ID_OR_DIR] [options] [TEXT...]\n"
          "`xfmr pipeline TASK --help` lists the options of a task.\n\n"
          "Prints one JSON result per input, shaped and formatted like Python's json.dumps of what HF's pipeline\n"
          "returns for that input (floats as repr(), \", \"/\": \" separators, ensure_ascii; --no-ensure-ascii for\n"
          "raw UTF-8). Without TEXT, reads stdin: one input per line, or JSON Lines for structured inputs\n"
          "({\"question\": ..., \"context\": ...}, {\"text\": ..., \"text_pair\": ...}).\n\n"
          "Tasks:\n" +
          tasks_help);
      sub.add_option("task", cli.unknown_task, "The task (see below)");
      sub.allow_extras();
      for (const auto& info : supported_tasks()) {
        auto tc = std::make_unique<TaskCommand>();
        TaskCommand& t = *tc;
        t.task = info.name;
        t.app = sub.add_subcommand(info.name, info.description);
        for (const auto& a : info.aliases) t.app->alias(a);
        CommonArgs& c = t.common;
        t.app->add_option("-m,--model", c.model,
                          "Model folder or hub id org/name[@revision] (default: " + info.default_model + ")");
        t.app->add_option("--tokenizer", c.tokenizer, "Tokenizer folder, file or hub id (default: the model's)");
        t.app->add_option("--batch-size", c.batch_size, "Inputs per forward pass (sorted by length; default 1)")
            ->check(CLI::Range(1, 1 << 20));
        add_threads_option(*t.app, &c.threads);
        t.app->add_option("--params", c.params, "HF keyword arguments as a JSON object, e.g. '{\"top_k\": null}'");
        t.app->add_flag("--jsonl", c.jsonl, "Every stdin line is JSON (a string or an object)");
        t.app->add_flag("--no-ensure-ascii", c.no_ascii, "Print non-ASCII characters as UTF-8 instead of \\uXXXX");
        t.app->add_flag("--keep-dtype", c.keep_dtype, "Keep f16/bf16 weights in their stored dtype");
        t.app->add_flag("-q,--quiet", c.quiet, "No warnings on stderr");
        if (info.name == "question-answering") {
          t.app->add_option("--question", t.question, "The question (TEXT/stdin lines are then contexts)")
              ->each([&t](const std::string&) { t.has_question = true; });
          t.app->add_option("--context", t.context, "The context (TEXT/stdin lines are then questions)")
              ->each([&t](const std::string&) { t.has_context = true; });
        }
        if (info.name == "text-classification")
          t.app->add_option("--pair", t.pair, "Second text of a pair (e.g. an NLI hypothesis) for every input")
              ->each([&t](const std::string&) { t.has_pair = true; });
        if (info.name == "text-generation") {
          t.app->add_flag("--stream", t.stream, "Print tokens as they are generated (default when stdout is a terminal)");
          t.app->add_flag("--no-stream", t.no_stream, "Do not stream even on a terminal");
        }
        t.specs = task_specs(info.name);
        t.values.resize(t.specs.size());
        for (size_t i = 0; i < t.specs.size(); ++i) {
          const OptSpec& s = t.specs[i];
          CLI::Option* o;
          if (s.kind == OptSpec::True || s.kind == OptSpec::False || s.kind == OptSpec::Null) {
            o = t.app->add_flag(s.flag, s.help);
          } else {
            o = t.app->add_option(s.flag, s.help);
            o->type_size(1)->expected(1);
            o->type_name(s.kind == OptSpec::Int ? "INT" : s.kind == OptSpec::Float ? "FLOAT" : s.kind == OptSpec::List ? "LIST" : "TEXT");
            if (s.kind == OptSpec::List) o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
          }
          t.options.push_back(o);
        }
        t.app->add_option("texts", c.texts, "Inputs (default: stdin, one per line)");
        t.app->footer("Examples:\n" + example_for(info.name));
        cli.tasks.push_back(std::move(tc));
      }
      return std::function<int()>([] {
        for (auto& t : cli.tasks)
          if (t->app->parsed()) return run_task(*t);
        if (!cli.unknown_task.empty()) resolve_task(cli.unknown_task);  // throws: unknown / unsupported, did you mean
        std::cerr << cli.app->help() << "\nxfmr: error: no task given (see the list above)\n";
        return 1;
      });
    });

}  // namespace
}  // namespace xfmr::cli
