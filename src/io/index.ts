/**
 * Input and output: safetensors, weight import/export with reference-name converters, PNG and image grids.
 * @module io
 */
export {
  parseSafetensors,
  serializeSafetensors,
  SafetensorsFile,
  DTYPE_SIZES,
  SAFETENSORS_LIMITS,
  isFloatDtype,
  f8BitsToNumber,
  f16BitsToNumber,
  numberToF16Bits,
  bf16BitsToNumber,
  numberToBf16Bits,
  type SafetensorsDtype,
  type SafetensorsTensorInfo,
  type ParseSafetensorsOptions,
  type DecodedArray,
  type SafetensorsEntry,
  type SafetensorsRawEntry,
  type SafetensorsInput,
  type SerializeSafetensorsOptions,
} from './safetensors.js';
export { readSafetensorsFile, writeSafetensorsFile } from './node_file.js';
export {
  defineConverter,
  composeConverters,
  applyRenames,
  matchesKeyPattern,
  toModuleKey,
  toForeignKey,
  identityConverter,
  timmVit,
  type RenameRule,
  type KeyPattern,
  type WeightConverter,
  type ConverterSpec,
} from './converters.js';
export {
  loadWeights,
  exportWeights,
  saveWeights,
  torchShape,
  fromTorchLayout,
  toTorchLayout,
  type StateDictSource,
  type LoadWeightsOptions,
  type LoadReport,
  type ExportWeightsOptions,
  type SaveWeightsOptions,
} from './state_dict.js';
export { encodePng, zlibCompress, crc32, adler32, type PngImage, type PngOptions } from './png.js';
export {
  imageGrid,
  toImageData,
  maskedImage,
  pasteVisible,
  type GridImage,
  type RgbaImage,
  type ImageGridOptions,
  type MaskedImageOptions,
} from './image_grid.js';
export {
  maeConverter,
  maeEncoderConverter,
  beitConverter,
  beitEncoderConverter,
  simmimConverter,
  simmimEncoderConverter,
  loadMimWeights,
  exportMimWeights,
  saveMimWeights,
  RELATIVE_POSITION_BIAS_KEY,
  type LoadMimWeightsOptions,
} from './converters_mim.js';
export {
  resizeRelPosBiasTable,
  resizeRelPosBiasTableData,
  TIMM_RESAMPLE,
  MAE_RESAMPLE,
  BEIT_RESAMPLE,
  type PosEmbedResample,
  type ConverterResample,
} from './pos_resize.js';
export { dinoConverter, dinoBackboneConverter, dinoCheckpointConverter } from './converters_dino.js';
export {
  mocoV3Converter,
  mocoV3EncoderConverter,
  loadWeightsWithBatchNorm,
  exportWeightsWithBatchNorm,
  saveWeightsWithBatchNorm,
} from './converters_ssl.js';
export { openClipConverter, openClipVisionConverter, openClipTextConverter } from './converters_clip.js';
export { beit3Converter } from './converters_beit3.js';
