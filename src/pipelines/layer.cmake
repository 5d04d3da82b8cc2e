# Pipelines: HF's pipeline(task) - pre-processing, model, post-processing - and generation.
xfmr_add_layer(pipelines DEPS xfmr_models xfmr_tokenizers PRIVATE_DEPS nlohmann_json::nlohmann_json)
if(TARGET xfmr_pipelines)
  # bundled_model_dirs(): <source tree>/models is searched for bundled default models.
  target_compile_definitions(xfmr_pipelines PRIVATE XFMR_PIPELINES_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endif()
