package dev.jdiffusion.weights;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The configuration files of Stable Diffusion 1.5 (runwayml/stable-diffusion-v1-5) in the diffusers layout,
 * with the key set diffusers 0.25 writes, for {@link SyntheticWeights}. The safety checker and feature
 * extractor are left out, as in most converted folders.
 */
final class Sd15Configs {
    private Sd15Configs() {}

    /** Relative path to file content. */
    static final Map<String, String> FILES = new LinkedHashMap<>();

    static {
        FILES.put("model_index.json", """
                {
                  "_class_name": "StableDiffusionPipeline",
                  "_diffusers_version": "0.25.1",
                  "feature_extractor": [null, null],
                  "image_encoder": [null, null],
                  "requires_safety_checker": false,
                  "safety_checker": [null, null],
                  "scheduler": ["diffusers", "PNDMScheduler"],
                  "text_encoder": ["transformers", "CLIPTextModel"],
                  "tokenizer": ["transformers", "CLIPTokenizer"],
                  "unet": ["diffusers", "UNet2DConditionModel"],
                  "vae": ["diffusers", "AutoencoderKL"]
                }
                """);
        FILES.put("unet/config.json", """
                {
                  "_class_name": "UNet2DConditionModel",
                  "_diffusers_version": "0.25.1",
                  "act_fn": "silu",
                  "addition_embed_type": null,
                  "addition_embed_type_num_heads": 64,
                  "addition_time_embed_dim": null,
                  "attention_head_dim": 8,
                  "attention_type": "default",
                  "block_out_channels": [320, 640, 1280, 1280],
                  "center_input_sample": false,
                  "class_embed_type": null,
                  "class_embeddings_concat": false,
                  "conv_in_kernel": 3,
                  "conv_out_kernel": 3,
                  "cross_attention_dim": 768,
                  "cross_attention_norm": null,
                  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                  "downsample_padding": 1,
                  "dropout": 0.0,
                  "dual_cross_attention": false,
                  "encoder_hid_dim": null,
                  "encoder_hid_dim_type": null,
                  "flip_sin_to_cos": true,
                  "freq_shift": 0,
                  "in_channels": 4,
                  "layers_per_block": 2,
                  "mid_block_only_cross_attention": null,
                  "mid_block_scale_factor": 1,
                  "mid_block_type": "UNetMidBlock2DCrossAttn",
                  "norm_eps": 1e-05,
                  "norm_num_groups": 32,
                  "num_attention_heads": null,
                  "num_class_embeds": null,
                  "only_cross_attention": false,
                  "out_channels": 4,
                  "projection_class_embeddings_input_dim": null,
                  "resnet_out_scale_factor": 1.0,
                  "resnet_skip_time_act": false,
                  "resnet_time_scale_shift": "default",
                  "reverse_transformer_layers_per_block": null,
                  "sample_size": 64,
                  "time_cond_proj_dim": null,
                  "time_embedding_act_fn": null,
                  "time_embedding_dim": null,
                  "time_embedding_type": "positional",
                  "timestep_post_act": null,
                  "transformer_layers_per_block": 1,
                  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                  "upcast_attention": false,
                  "use_linear_projection": false
                }
                """);
        FILES.put("vae/config.json", """
                {
                  "_class_name": "AutoencoderKL",
                  "_diffusers_version": "0.25.1",
                  "act_fn": "silu",
                  "block_out_channels": [128, 256, 512, 512],
                  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
                  "force_upcast": true,
                  "in_channels": 3,
                  "latent_channels": 4,
                  "layers_per_block": 2,
                  "norm_num_groups": 32,
                  "out_channels": 3,
                  "sample_size": 512,
                  "scaling_factor": 0.18215,
                  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
                }
                """);
        FILES.put("text_encoder/config.json", """
                {
                  "_name_or_path": "openai/clip-vit-large-patch14",
                  "architectures": ["CLIPTextModel"],
                  "attention_dropout": 0.0,
                  "bos_token_id": 0,
                  "dropout": 0.0,
                  "eos_token_id": 2,
                  "hidden_act": "quick_gelu",
                  "hidden_size": 768,
                  "initializer_factor": 1.0,
                  "initializer_range": 0.02,
                  "intermediate_size": 3072,
                  "layer_norm_eps": 1e-05,
                  "max_position_embeddings": 77,
                  "model_type": "clip_text_model",
                  "num_attention_heads": 12,
                  "num_hidden_layers": 12,
                  "pad_token_id": 1,
                  "projection_dim": 768,
                  "torch_dtype": "float32",
                  "vocab_size": 49408
                }
                """);
        FILES.put("scheduler/scheduler_config.json", """
                {
                  "_class_name": "PNDMScheduler",
                  "_diffusers_version": "0.25.1",
                  "beta_end": 0.012,
                  "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085,
                  "clip_sample": false,
                  "num_train_timesteps": 1000,
                  "prediction_type": "epsilon",
                  "set_alpha_to_one": false,
                  "skip_prk_steps": true,
                  "steps_offset": 1,
                  "timestep_spacing": "leading",
                  "trained_betas": null
                }
                """);
    }
}
