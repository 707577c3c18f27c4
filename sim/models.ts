/**
 * The request models of the simulated API, field by field, as A1111 v1.10.1
 * (`modules/api/models.py` + `modules/processing.py`) and Forge
 * (`modules/api/models.py` + `modules/processing.py` of
 * lllyasviel/stable-diffusion-webui-forge) build them. They drive both request
 * validation (`validation.ts`, `pydantic2.ts`) and `GET /openapi.json` (`openapi.ts`).
 *
 * How A1111 builds the txt2img/img2img models (`PydanticModelGenerator`):
 * - every `__init__` parameter of the processing dataclass (minus `API_NOT_ALLOWED`)
 *   becomes `Optional[<annotation>]` with the dataclass default: `null` passes validation;
 * - `merge_class_params` walks the MRO subclass first and lets the base class's
 *   default win (`{**sub, **base}`), so txt2img's `denoising_strength` default is
 *   `None` (the base's), not the subclass's `0.75`; a property default becomes `None`
 *   (`mask_blur`); an `Image` annotation becomes `str` (`firstpass_image`, `latent_mask`);
 * - then the API-only fields with plain types are added (`create_model` keeps the first
 *   position of a repeated name but the last definition): `sampler_index: str = "Euler"`,
 *   `script_args: list = []`, `send_images: bool = True`, `save_images: bool = False`,
 *   `alwayson_scripts: dict = {}` refuse `null`; `script_name`, `force_task_id`,
 *   `infotext` (`str = None`) accept it; img2img adds `init_images: list = None`,
 *   `denoising_strength: float = 0.75` (refuses `null`), `mask: str = None`,
 *   `include_init_images: bool = False`.
 */
import type { FieldSpec, FieldType } from './validation.js';

/** Which server the simulator imitates: A1111 v1.10.1 (pydantic 1) or Forge (pydantic 2). */
export type SimFlavor = 'a1111' | 'forge';

/** A named request model (the name is the OpenAPI schema name). */
export interface RequestModel {
  name: string;
  fields: FieldSpec[];
}

/** A processing-class field: `Optional[type]` with the dataclass default (A1111 `field_type_generator`). */
function opt(name: string, type: FieldType, def: unknown = null): FieldSpec {
  return { name, type, default: def, nullable: true };
}

/** An API-only field with a plain type: `null` is refused unless the default is `None` (pydantic 1 rule). */
function plain(name: string, type: FieldType, def: unknown): FieldSpec {
  return { name, type, default: def, nullable: def === null };
}

/** `StableDiffusionProcessing` fields in dataclass order (A1111 v1.10.1 `modules/processing.py`). */
function baseFields(flavor: SimFlavor): FieldSpec[] {
  return [
    opt('prompt', 'str', ''),
    opt('negative_prompt', 'str', ''),
    opt('styles', 'list[str]'),
    opt('seed', 'int', -1),
    opt('subseed', 'int', -1),
    opt('subseed_strength', 'float', 0),
    opt('seed_resize_from_h', 'int', -1),
    opt('seed_resize_from_w', 'int', -1),
    opt('sampler_name', 'str'),
    opt('scheduler', 'str'),
    opt('batch_size', 'int', 1),
    opt('n_iter', 'int', 1),
    opt('steps', 'int', 50),
    opt('cfg_scale', 'float', 7.0),
    // Forge: `distilled_cfg_scale: float = 3.5` right after cfg_scale (Forge modules/processing.py)
    ...(flavor === 'forge' ? [opt('distilled_cfg_scale', 'float', 3.5)] : []),
    opt('width', 'int', 512),
    opt('height', 'int', 512),
    opt('restore_faces', 'bool'),
    opt('tiling', 'bool'),
    opt('do_not_save_samples', 'bool', false),
    opt('do_not_save_grid', 'bool', false),
    opt('eta', 'float'),
    opt('denoising_strength', 'float'),
    opt('s_min_uncond', 'float'),
    opt('s_churn', 'float'),
    opt('s_tmax', 'float'),
    opt('s_tmin', 'float'),
    opt('s_noise', 'float'),
    opt('override_settings', 'dict'),
    opt('override_settings_restore_afterwards', 'bool', true),
    opt('refiner_checkpoint', 'str'),
    opt('refiner_switch_at', 'float'),
    opt('disable_extra_networks', 'bool', false),
    opt('firstpass_image', 'str'),
    opt('comments', 'dict'),
  ];
}

/** API-only tail shared by both models (after the img2img-only ones are placed). */
function apiTail(): FieldSpec[] {
  return [
    plain('script_name', 'str', null),
    plain('script_args', 'list', []),
    plain('send_images', 'bool', true),
    plain('save_images', 'bool', false),
    plain('alwayson_scripts', 'dict', {}),
    plain('infotext', 'str', null),
  ];
}

/**
 * `StableDiffusionProcessingTxt2Img` as the API model (A1111 `StableDiffusionTxt2ImgProcessingAPI`),
 * in field order; Forge adds `distilled_cfg_scale`, `hr_additional_modules: list = None`,
 * `hr_cfg: float = 1.0`, `hr_distilled_cfg: float = 3.5`.
 */
export function txt2imgModel(flavor: SimFlavor): RequestModel {
  const forge = flavor === 'forge';
  return {
    name: 'StableDiffusionProcessingTxt2Img',
    fields: [
      ...baseFields(flavor),
      opt('enable_hr', 'bool', false),
      opt('firstphase_width', 'int', 0),
      opt('firstphase_height', 'int', 0),
      opt('hr_scale', 'float', 2.0),
      opt('hr_upscaler', 'str'),
      opt('hr_second_pass_steps', 'int', 0),
      opt('hr_resize_x', 'int', 0),
      opt('hr_resize_y', 'int', 0),
      opt('hr_checkpoint_name', 'str'),
      ...(forge ? [opt('hr_additional_modules', 'list')] : []),
      opt('hr_sampler_name', 'str'),
      opt('hr_scheduler', 'str'),
      opt('hr_prompt', 'str', ''),
      opt('hr_negative_prompt', 'str', ''),
      ...(forge ? [opt('hr_cfg', 'float', 1.0), opt('hr_distilled_cfg', 'float', 3.5)] : []),
      plain('force_task_id', 'str', null),
      plain('sampler_index', 'str', 'Euler'),
      ...apiTail(),
    ],
  };
}

/**
 * `StableDiffusionProcessingImg2Img` as the API model (A1111 `StableDiffusionImg2ImgProcessingAPI`),
 * in field order (`denoising_strength` keeps the base position with the API's plain `float = 0.75`);
 * Forge adds `distilled_cfg_scale` and `hr_distilled_cfg: float = 3.5`.
 */
export function img2imgModel(flavor: SimFlavor): RequestModel {
  const fields = baseFields(flavor).map((f) => (f.name === 'denoising_strength' ? plain('denoising_strength', 'float', 0.75) : f));
  return {
    name: 'StableDiffusionProcessingImg2Img',
    fields: [
      ...fields,
      plain('init_images', 'list', null),
      opt('resize_mode', 'int', 0),
      opt('image_cfg_scale', 'float'),
      plain('mask', 'str', null),
      opt('mask_blur_x', 'int', 4),
      opt('mask_blur_y', 'int', 4),
      opt('mask_blur', 'int'),
      opt('mask_round', 'bool', true),
      opt('inpainting_fill', 'int', 0),
      opt('inpaint_full_res', 'bool', true),
      opt('inpaint_full_res_padding', 'int', 0),
      opt('inpainting_mask_invert', 'int', 0),
      opt('initial_noise_multiplier', 'float'),
      opt('latent_mask', 'str'),
      plain('force_task_id', 'str', null),
      ...(flavor === 'forge' ? [opt('hr_distilled_cfg', 'float', 3.5)] : []),
      plain('sampler_index', 'str', 'Euler'),
      plain('include_init_images', 'bool', false),
      ...apiTail(),
    ],
  };
}

const VIS = (what: string) => `Sets the visibility of ${what}, values should be between 0 and 1.`;

/** `ExtrasBaseRequest` (A1111 `modules/api/models.py`): plain (not Optional) fields with titles and descriptions. */
function extrasBase(upscalerNames: readonly string[]): FieldSpec[] {
  const list = upscalerNames.join(' , ');
  return [
    {
      name: 'resize_mode',
      type: { literal: [0, 1] },
      default: 0,
      title: 'Resize Mode',
      description: 'Sets the resize mode: 0 to upscale by upscaling_resize amount, 1 to upscale up to upscaling_resize_h x upscaling_resize_w.',
    },
    { name: 'show_extras_results', type: 'bool', default: true, title: 'Show results', description: 'Should the backend return the generated image?' },
    { name: 'gfpgan_visibility', type: 'float', default: 0, ge: 0, le: 1, title: 'GFPGAN Visibility', description: VIS('GFPGAN') },
    { name: 'codeformer_visibility', type: 'float', default: 0, ge: 0, le: 1, title: 'CodeFormer Visibility', description: VIS('CodeFormer') },
    {
      name: 'codeformer_weight',
      type: 'float',
      default: 0,
      ge: 0,
      le: 1,
      title: 'CodeFormer Weight',
      description: 'Sets the weight of CodeFormer, values should be between 0 and 1.',
    },
    {
      name: 'upscaling_resize',
      type: 'float',
      default: 2,
      gt: 0,
      title: 'Upscaling Factor',
      description: 'By how much to upscale the image, only used when resize_mode=0.',
    },
    {
      name: 'upscaling_resize_w',
      type: 'int',
      default: 512,
      ge: 1,
      title: 'Target Width',
      description: 'Target width for the upscaler to hit. Only used when resize_mode=1.',
    },
    {
      name: 'upscaling_resize_h',
      type: 'int',
      default: 512,
      ge: 1,
      title: 'Target Height',
      description: 'Target height for the upscaler to hit. Only used when resize_mode=1.',
    },
    { name: 'upscaling_crop', type: 'bool', default: true, title: 'Crop to fit', description: 'Should the upscaler crop the image to fit in the chosen size?' },
    {
      name: 'upscaler_1',
      type: 'str',
      default: 'None',
      title: 'Main upscaler',
      description: `The name of the main upscaler to use, it has to be one of this list: ${list}`,
    },
    {
      name: 'upscaler_2',
      type: 'str',
      default: 'None',
      title: 'Secondary upscaler',
      description: `The name of the secondary upscaler to use, it has to be one of this list: ${list}`,
    },
    {
      name: 'extras_upscaler_2_visibility',
      type: 'float',
      default: 0,
      ge: 0,
      le: 1,
      title: 'Secondary upscaler visibility',
      description: VIS('secondary upscaler'),
    },
    { name: 'upscale_first', type: 'bool', default: false, title: 'Upscale first', description: 'Should the upscaler run before restoring faces?' },
  ];
}

const IMAGE_FIELD = "Image to work on, must be a Base64 string containing the image's data.";

/** `FileData` (A1111 `modules/api/models.py`): both fields required. */
export const FILE_DATA_FIELDS: FieldSpec[] = [
  { name: 'data', type: 'str', required: true, title: 'File data', description: 'Base64 representation of the file' },
  { name: 'name', type: 'str', required: true, title: 'File name' },
];

/** `ExtrasSingleImageRequest` (`upscalerNames` go into the upscaler fields' descriptions, as A1111 does). */
export function extrasSingleModel(upscalerNames: readonly string[]): RequestModel {
  return {
    name: 'ExtrasSingleImageRequest',
    fields: [...extrasBase(upscalerNames), { name: 'image', type: 'str', default: '', title: 'Image', description: IMAGE_FIELD }],
  };
}

/** `ExtrasBatchImagesRequest`: `imageList: list[FileData]` is required. */
export function extrasBatchModel(upscalerNames: readonly string[]): RequestModel {
  return {
    name: 'ExtrasBatchImagesRequest',
    fields: [
      ...extrasBase(upscalerNames),
      {
        name: 'imageList',
        type: { listOf: FILE_DATA_FIELDS },
        model: 'FileData',
        required: true,
        title: 'Images',
        description: 'List of images to work on. Must be Base64 strings',
      },
    ],
  };
}

/** `InterrogateRequest`. */
export const INTERROGATE_MODEL: RequestModel = {
  name: 'InterrogateRequest',
  fields: [
    { name: 'image', type: 'str', default: '', title: 'Image', description: IMAGE_FIELD },
    { name: 'model', type: 'str', default: 'clip', title: 'Model', description: 'The interrogate model used.' },
  ],
};

/** `PNGInfoRequest`: `image` is required. */
export const PNGINFO_MODEL: RequestModel = {
  name: 'PNGInfoRequest',
  fields: [{ name: 'image', type: 'str', required: true, title: 'Image', description: 'The base64 encoded PNG image' }],
};
