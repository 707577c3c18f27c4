/**
 * Settings that A1111 v1.10.1's built-in extensions (`extensions-builtin/`) add to `GET /sdapi/v1/options`, after
 * `modules/shared_options.py`'s (extension scripts load later, so their keys come last). Defaults as each source
 * declares them:
 * - `Lora/scripts/lora_script.py` (`options_section(('extra_networks', …))` + `('compatibility', …)`): as of WebUI
 *   1.10 (`lora_show_all` became `lora_filter_disabled`, `lora_bundled_ti_to_infotext` added), read in Forge commit
 *   `e26abf87ecd1eefd9ab0a198eee56f9c643e4001` ("Gradio 4 + WebUI 1.10"), Forge keeps the same keys in
 *   `sd_forge_lora/scripts/lora_script.py`;
 * - `LDSR/scripts/ldsr_model.py`, `ScuNET/scripts/scunet_model.py`, `SwinIR/scripts/swinir_model.py`
 *   (`shared.opts.add_option(...)` in `on_ui_settings`), `canvas-zoom-and-pan/scripts/hotkey_config.py`,
 *   `extra-options-section/scripts/extra_options_section.py`, `hypertile/scripts/hypertile_script.py`: A1111 commit
 *   `aabedcbcc7cf4109a66da9f337866cea3a76af90` (2024-03-02, in Forge's history; unchanged by WebUI 1.10).
 * - `modules/processing_scripts/comments.py` (`enable_prompt_comments`, a script module's option, loaded with them).
 * Forge (`--flavor forge`) has no `LDSR`, `canvas-zoom-and-pan` nor `hypertile` built in (its `extensions-builtin/`).
 */
import type { SimFlavor } from './models.js';

/** The built-in extensions' settings of the flavour, in load order. */
export function builtinOptions(flavor: SimFlavor): Record<string, unknown> {
  const a1111Only = flavor === 'a1111';
  return {
    // modules/processing_scripts/comments.py (A1111 v1.10.1; Forge keeps the option)
    enable_prompt_comments: true,
    // Lora
    sd_lora: 'None',
    lora_preferred_name: 'Alias from file',
    lora_add_hashes_to_infotext: true,
    lora_bundled_ti_to_infotext: true,
    lora_filter_disabled: true,
    lora_hide_unknown_for_versions: [],
    lora_in_memory_limit: 0,
    lora_not_found_warning_console: false,
    lora_not_found_gradio_warning: false,
    lora_functional: false,
    // LDSR
    ...(a1111Only ? { ldsr_steps: 100, ldsr_cached: false } : {}),
    // ScuNET
    SCUNET_tile: 256,
    SCUNET_tile_overlap: 8,
    // SwinIR
    SWIN_tile: 192,
    SWIN_tile_overlap: 8,
    SWIN_torch_compile: false,
    // canvas-zoom-and-pan
    ...(a1111Only
      ? {
          canvas_hotkey_zoom: 'Alt',
          canvas_hotkey_adjust: 'Ctrl',
          canvas_hotkey_shrink_brush: 'Q',
          canvas_hotkey_grow_brush: 'W',
          canvas_hotkey_move: 'F',
          canvas_hotkey_fullscreen: 'S',
          canvas_hotkey_reset: 'R',
          canvas_hotkey_overlap: 'O',
          canvas_show_tooltip: true,
          canvas_auto_expand: true,
          canvas_blur_prompt: false,
          canvas_disabled_functions: ['Overlap'],
        }
      : {}),
    // extra-options-section
    extra_options_txt2img: [],
    extra_options_img2img: [],
    extra_options_cols: 1,
    extra_options_accordion: false,
    // hypertile
    ...(a1111Only
      ? {
          hypertile_enable_unet: false,
          hypertile_enable_unet_secondpass: false,
          hypertile_max_depth_unet: 3,
          hypertile_max_tile_unet: 256,
          hypertile_swap_size_unet: 3,
          hypertile_enable_vae: false,
          hypertile_max_depth_vae: 3,
          hypertile_max_tile_vae: 128,
          hypertile_swap_size_vae: 3,
        }
      : {}),
  };
}
